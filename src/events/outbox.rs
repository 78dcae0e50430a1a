//! The outbox: event rows written in the same D1 batch as the change, with
//! the per-directory gapless `sequence` given out inside that batch.

use crate::stmt;
use crate::storage::{Row, RowExt, Stmt};
use serde_json::{json, Value};

/// An event decided by a use case, before it has a sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub id: String,
    pub event: &'static str,
    pub data: Value,
}

/// Events per INSERT statement: keeps each statement well under D1's
/// statement size limits while a 10,000-member group deletion stays within
/// its 1,000 statements per invocation.
const CHUNK: usize = 25;

/// Statements that reserve `drafts.len()` sequence numbers in the directory
/// and insert the events with them, in order. Must run inside the batch that
/// makes the change; the batch's atomicity makes the sequence gapless.
pub fn insert_events(directory_id: &str, drafts: &[EventDraft], now: &str) -> Vec<Stmt> {
    if drafts.is_empty() {
        return Vec::new();
    }
    let n = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
    let mut out = vec![stmt!("UPDATE directories SET event_seq = event_seq + ?1 WHERE id = ?2", n, directory_id)];
    for (chunk_no, chunk) in drafts.chunks(CHUNK).enumerate() {
        let items: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let k = chunk_no * CHUNK + i + 1;
                json!({ "id": d.id, "k": k, "event": d.event, "data": d.data.to_string() })
            })
            .collect();
        out.push(stmt!(
            "INSERT INTO events (id, directory_id, organization_id, sequence, event, data, created_at) \
             SELECT json_extract(e.value, '$.id'), d.id, d.organization_id, d.event_seq - ?1 + json_extract(e.value, '$.k'), \
                    json_extract(e.value, '$.event'), json_extract(e.value, '$.data'), ?2 \
             FROM directories d, json_each(?3) e WHERE d.id = ?4 ORDER BY e.key",
            n,
            now,
            Value::Array(items).to_string(),
            directory_id
        ));
    }
    out
}

/// Columns of an event row for [`envelope`].
pub const EVENT_COLUMNS: &str = "e.id, e.event, e.directory_id, e.organization_id, e.sequence, e.created_at, e.data";

/// The event as the application receives it, on the log and in webhooks.
pub fn envelope(row: &Row) -> Value {
    json!({
        "id": row.str("id"),
        "event": row.str("event"),
        "directory_id": row.str("directory_id"),
        "organization_id": row.str("organization_id"),
        "sequence": row.int("sequence"),
        "created_at": row.str("created_at"),
        "data": row.json("data"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::{block_on, Sqlite};
    use crate::storage::Db;

    fn setup() -> Sqlite {
        let db = Sqlite::open_migrated().unwrap();
        block_on(db.batch(vec![stmt!(
            "INSERT INTO directories (id, organization_id, name, provider, state, created_at, updated_at) VALUES ('d1', 'org_1', 'D', 'okta', 'linked', 't', 't')"
        )]))
        .unwrap();
        db
    }

    fn drafts(n: usize, tag: &str) -> Vec<EventDraft> {
        (0..n).map(|i| EventDraft { id: format!("event_{tag}{i}"), event: "dsync.user.created", data: json!({"i": i, "s": "x\"y"}) }).collect()
    }

    #[test]
    fn sequences_are_gapless_and_ordered_across_batches_and_chunks() {
        let db = setup();
        block_on(db.batch(insert_events("d1", &drafts(3, "a"), "t"))).unwrap();
        block_on(db.batch(insert_events("d1", &drafts(60, "b"), "t"))).unwrap();
        let rows = block_on(db.batch(vec![stmt!("SELECT id, sequence, data, organization_id FROM events ORDER BY pos")])).unwrap();
        let rows = &rows[0].rows;
        assert_eq!(rows.len(), 63);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.int("sequence"), Some(i as i64 + 1));
        }
        assert_eq!(rows[3].str("id"), Some("event_b0"));
        assert_eq!(rows[62].str("id"), Some("event_b59"));
        assert_eq!(rows[0].json("data"), json!({"i": 0, "s": "x\"y"}));
        assert_eq!(rows[0].str("organization_id"), Some("org_1"));
        let seq = block_on(db.batch(vec![stmt!("SELECT event_seq FROM directories WHERE id = 'd1'")])).unwrap();
        assert_eq!(seq[0].rows[0].int("event_seq"), Some(63));
    }

    #[test]
    fn a_failed_batch_gives_out_no_sequence_numbers() {
        let db = setup();
        let mut stmts = insert_events("d1", &drafts(2, "a"), "t");
        stmts.push(stmt!("INSERT INTO guard (reason) VALUES ('fail')"));
        assert!(block_on(db.batch(stmts)).is_err());
        block_on(db.batch(insert_events("d1", &drafts(1, "b"), "t"))).unwrap();
        let rows = block_on(db.batch(vec![stmt!("SELECT sequence FROM events")])).unwrap();
        assert_eq!(rows[0].rows.len(), 1);
        assert_eq!(rows[0].rows[0].int("sequence"), Some(1));
    }
}
