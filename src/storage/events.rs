//! Events, on the data database: the outbox rows written in the same batch
//! as the change they tell (with the per-directory gapless `sequence` given
//! out inside that batch), the ordered event log read by the management
//! API, and the reads the webhook consumer and the sweeper make of it.
//!
//! `pos` is the data database's commit order: the log without a directory
//! is in `pos` order, and catch-up cursors are positions in it.

use super::{Db, DbError, Row, RowExt, SqlValue, Stmt};
use crate::events::EventDraft;
use crate::stmt;
use serde_json::{json, Value};

/// Events per INSERT statement: keeps each statement well under D1's
/// statement size limits while a 10,000-member group deletion stays within
/// its 1,000 statements per invocation.
const CHUNK: usize = 25;

/// Statements that reserve `drafts.len()` sequence numbers in the directory
/// and insert the events with them, in order. Must run inside the batch that
/// makes the change; the batch's atomicity makes the sequence gapless. They
/// name the data database's `directories` row (its `event_seq` and
/// `organization_id`), so they run on the directory's data database.
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

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub event: String,
    pub directory_id: String,
    pub organization_id: String,
    pub sequence: i64,
    pub created_at: String,
    /// The event's data, parsed (Null if the stored text is not JSON).
    pub data: Value,
    /// Where it is in the data database's commit order.
    pub pos: i64,
}

/// Columns of an event row (alias `e`) for [`EventRecord::from_row`].
pub(crate) const EVENT_COLUMNS: &str = "e.id, e.event, e.directory_id, e.organization_id, e.sequence, e.created_at, e.data, e.pos";

impl EventRecord {
    pub(crate) fn from_row(row: &Row) -> Self {
        EventRecord {
            id: row.string("id"),
            event: row.string("event"),
            directory_id: row.string("directory_id"),
            organization_id: row.string("organization_id"),
            sequence: row.int("sequence").unwrap_or(0),
            created_at: row.string("created_at"),
            data: row.json("data"),
            pos: row.int("pos").unwrap_or(0),
        }
    }
}

/// One page of the event log: narrowed by directory, organisation and
/// event names, after an event (by id), in commit order (per directory
/// that is `sequence` order).
#[derive(Debug, Clone, Default)]
pub struct LogQuery<'a> {
    pub directory_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    /// Event names (already checked); None: every event.
    pub events: Option<Vec<&'a str>>,
    pub after: Option<&'a str>,
    /// Created at or after this instant, and before that one (stored
    /// `created_at` text: RFC 3339 UTC with milliseconds).
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    /// Rows to read (the caller asks one more than a page to know if more follow).
    pub limit: i64,
}

/// The events of a [`LogQuery`].
pub async fn log<D: Db>(db: &D, q: &LogQuery<'_>) -> Result<Vec<EventRecord>, DbError> {
    let mut cond = vec!["1 = 1".to_string()];
    let mut params = Vec::new();
    if let Some(d) = q.directory_id {
        cond.push("e.directory_id = ?".into());
        params.push(SqlValue::from(d));
    }
    if let Some(o) = q.organization_id {
        cond.push("e.organization_id = ?".into());
        params.push(SqlValue::from(o));
    }
    if let Some(names) = &q.events {
        cond.push("e.event IN (SELECT value FROM json_each(?))".into());
        params.push(SqlValue::Text(serde_json::to_string(names).unwrap_or_default()));
    }
    if let Some(after) = q.after {
        cond.push("e.pos > coalesce((SELECT pos FROM events WHERE id = ?), -1)".into());
        params.push(SqlValue::from(after));
    }
    if let Some(t) = &q.range_start {
        cond.push("e.created_at >= ?".into());
        params.push(SqlValue::Text(t.clone()));
    }
    if let Some(t) = &q.range_end {
        cond.push("e.created_at < ?".into());
        params.push(SqlValue::Text(t.clone()));
    }
    let order = if q.directory_id.is_some() { "e.sequence" } else { "e.pos" };
    params.push(SqlValue::Int(q.limit));
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events e WHERE {} ORDER BY {order} LIMIT ?", cond.join(" AND "));
    let r = db.batch(vec![Stmt::new(sql, params)]).await?;
    Ok(r.first().map(|r| r.rows.iter().map(EventRecord::from_row).collect()).unwrap_or_default())
}

/// The event `id`, if this database holds it.
pub async fn get<D: Db>(db: &D, id: &str) -> Result<Option<EventRecord>, DbError> {
    let r = db.batch(vec![select(id)]).await?;
    Ok(r.first().and_then(|r| r.rows.first()).map(EventRecord::from_row))
}

/// Whether this database holds the event `id`.
pub async fn exists<D: Db>(db: &D, id: &str) -> Result<bool, DbError> {
    let r = db.batch(vec![stmt!("SELECT count(*) AS n FROM events WHERE id = ?1", id)]).await?;
    Ok(r.first().and_then(|r| r.rows.first()).and_then(|r| r.int("n")) == Some(1))
}

/// Reads the event `id` (its columns for [`EventRecord::from_row`]).
pub(crate) fn select(id: &str) -> Stmt {
    stmt!(format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ?1"), id)
}

/// Marks the event picked up by a consumer, so the sweeper leaves it alone.
pub(crate) fn mark_dispatched(id: &str, now: &str) -> Stmt {
    stmt!("UPDATE events SET dispatched_at = ?2 WHERE id = ?1 AND dispatched_at IS NULL", id, now)
}

/// Events no consumer has picked up, created before `cutoff`, oldest first.
pub(crate) fn undispatched(cutoff: &str, limit: i64) -> Stmt {
    stmt!("SELECT id FROM events WHERE dispatched_at IS NULL AND created_at < ?1 ORDER BY created_at LIMIT ?2", cutoff, limit)
}

/// The end of the log (the last `pos`, 0 when empty), as an SQL expression
/// for a statement run on the data database.
pub(crate) const LOG_END: &str = "(SELECT coalesce(max(pos), 0) FROM events)";

/// The end of the log, read (for a statement run on another database).
pub async fn log_end<D: Db>(db: &D) -> Result<i64, DbError> {
    let r = db.batch(vec![Stmt::new(format!("SELECT {LOG_END} AS pos"), Vec::new())]).await?;
    Ok(r.first().and_then(|r| r.rows.first()).and_then(|r| r.int("pos")).unwrap_or(0))
}

/// Up to `limit` events with `from < pos <= end`, in order: (id, pos).
pub async fn between<D: Db>(db: &D, from: i64, end: i64, limit: i64) -> Result<Vec<(String, i64)>, DbError> {
    let r = db.batch(vec![stmt!("SELECT id, pos FROM events WHERE pos > ?1 AND pos <= ?2 ORDER BY pos LIMIT ?3", from, end, limit)]).await?;
    Ok(r.first().map(|r| r.rows.iter().map(|row| (row.string("id"), row.int("pos").unwrap_or(end))).collect()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::guard::always;
    use crate::storage::sqlite::{block_on, Sqlite};

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

    fn all(db: &Sqlite) -> Vec<EventRecord> {
        block_on(log(db, &LogQuery { limit: 1000, ..LogQuery::default() })).unwrap()
    }

    #[test]
    fn sequences_are_gapless_and_ordered_across_batches_and_chunks() {
        let db = setup();
        block_on(db.batch(insert_events("d1", &drafts(3, "a"), "t"))).unwrap();
        block_on(db.batch(insert_events("d1", &drafts(60, "b"), "t"))).unwrap();
        let events = all(&db);
        assert_eq!(events.len(), 63);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.sequence, i as i64 + 1);
        }
        assert_eq!(events[3].id, "event_b0");
        assert_eq!(events[62].id, "event_b59");
        assert_eq!(events[0].data, json!({"i": 0, "s": "x\"y"}));
        assert_eq!(events[0].organization_id, "org_1");
        assert_eq!(block_on(log_end(&db)).unwrap(), events[62].pos);
        let seq = block_on(db.batch(vec![stmt!("SELECT event_seq FROM directories WHERE id = 'd1'")])).unwrap();
        assert_eq!(seq[0].rows[0].int("event_seq"), Some(63));
    }

    #[test]
    fn a_failed_batch_gives_out_no_sequence_numbers() {
        let db = setup();
        let mut stmts = insert_events("d1", &drafts(2, "a"), "t");
        stmts.push(always("fail"));
        assert!(block_on(db.batch(stmts)).is_err());
        block_on(db.batch(insert_events("d1", &drafts(1, "b"), "t"))).unwrap();
        let events = all(&db);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].sequence, 1);
    }

    #[test]
    fn the_log_pages_after_an_event_and_narrows_by_name() {
        let db = setup();
        let mut d = drafts(4, "a");
        d[2].event = "dsync.user.deleted";
        block_on(db.batch(insert_events("d1", &d, "t"))).unwrap();
        let q = LogQuery { directory_id: Some("d1"), after: Some("event_a0"), limit: 2, ..LogQuery::default() };
        let ids: Vec<String> = block_on(log(&db, &q)).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["event_a1", "event_a2"]);
        let q = LogQuery { events: Some(vec!["dsync.user.deleted"]), limit: 10, ..LogQuery::default() };
        assert_eq!(block_on(log(&db, &q)).unwrap().len(), 1);
        assert!(block_on(exists(&db, "event_a3")).unwrap());
        assert_eq!(block_on(get(&db, "event_x")).unwrap(), None);
        let chunk = block_on(between(&db, 1, 3, 10)).unwrap();
        assert_eq!(chunk, vec![("event_a1".to_string(), 2), ("event_a2".to_string(), 3)]);
    }
}
