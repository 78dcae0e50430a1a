//! The webhook statements on one database and on separate control and data
//! databases: the same answers, and each statement on its own database
//! ([`Checked`] fails a test that names a table on the wrong one).

use super::testing::{insert_endpoint, insert_event, Checked, Side};
use super::{endpoints, sweep};
use crate::stmt;
use crate::storage::directory_purge;
use crate::storage::sqlite::{block_on, Sqlite};
use crate::storage::{Db, Row, RowExt};

/// Runs `test(control, data)` on one database, then on two.
fn both(test: impl Fn(&Checked, &Checked)) {
    let one = Checked::new(Side::Both);
    test(&one, &one);
    test(&Checked::new(Side::Control), &Checked::new(Side::Data));
}

fn exec(db: &Sqlite, sql: &str) {
    block_on(db.batch(vec![stmt!(sql)])).unwrap();
}

fn row(db: &Sqlite, sql: &str) -> Row {
    block_on(db.batch(vec![stmt!(sql)])).unwrap()[0].rows[0].clone()
}

/// Attempt 2 of event `event_{id}` to `endpoint`.
fn delivery(db: &Sqlite, id: &str, endpoint: &str, status: &str, due: &str) {
    let sql = format!(
        "INSERT INTO deliveries (id, event_id, endpoint_id, attempt, status, next_attempt_at, created_at) VALUES ('{id}', 'event_{id}', '{endpoint}', 2, '{status}', '{due}', '{due}')"
    );
    exec(db, &sql);
}

#[test]
fn the_sweep_finds_the_same_on_one_database_and_on_two() {
    both(|control, data| {
        insert_endpoint(&control.db, "endpoint_on", "https://a.example", "s");
        insert_endpoint(&control.db, "endpoint_off", "https://b.example", "s");
        exec(&control.db, "UPDATE webhook_endpoints SET state = 'disabled' WHERE id = 'endpoint_off'");
        exec(&control.db, "UPDATE webhook_endpoints SET catchup_pos = 0, catchup_end = 1, catchup_chain = 'catchup_1' WHERE id = 'endpoint_on'");
        insert_event(&data.db, "event_1");
        for (id, status) in [("r", "retrying"), ("s", "sending"), ("d", "deferred")] {
            delivery(&data.db, &format!("{id}_on"), "endpoint_on", status, "2000-01-01T00:00:00Z");
            delivery(&data.db, &format!("{id}_off"), "endpoint_off", status, "2000-01-01T00:00:00Z");
        }
        let c = sweep::Cutoffs { late: "u", sending: "u", limit: 10, catchup_endpoints: 5 };
        let found = block_on(sweep::overdue(control, data, &c)).unwrap();
        assert_eq!(found.undispatched, ["event_1"]);
        assert!(found.attempts.iter().all(|a| a.endpoint_id == "endpoint_on" && a.attempt == 2));
        let states: Vec<sweep::Pending> = found.attempts.iter().map(|a| a.state).collect();
        assert_eq!(states, [sweep::Pending::Retrying, sweep::Pending::Sending, sweep::Pending::Deferred]);
        assert_eq!(found.catchups, [sweep::Catchup { endpoint_id: "endpoint_on".into(), from: 0, end: 1, chain: "catchup_1".into() }]);
        assert!(block_on(sweep::advance_catchup(control, "endpoint_on", 0, None)).unwrap());
        assert!(!block_on(sweep::advance_catchup(control, "endpoint_on", 0, None)).unwrap());
    });
}

#[test]
fn disabling_and_re_enabling_remember_the_end_of_the_log_and_end_pending_deliveries() {
    both(|control, data| {
        insert_endpoint(&control.db, "endpoint_a", "https://a.example", "s");
        insert_event(&data.db, "event_1");
        insert_event(&data.db, "event_2");
        delivery(&data.db, "delivery_1", "endpoint_a", "retrying", "t");
        let disable =
            endpoints::EndpointChange { url: None, events: None, state: Some(endpoints::StateChange::Disable { reason: "because".into() }), now: "t1" };
        let e = block_on(endpoints::update(control, data, "endpoint_a", &disable)).unwrap().unwrap();
        assert_eq!((e.state.as_str(), e.disabled_reason.as_deref()), ("disabled", Some("because")));
        assert_eq!(row(&control.db, "SELECT disabled_pos FROM webhook_endpoints").int("disabled_pos"), Some(2));
        assert_eq!(row(&data.db, "SELECT status FROM deliveries").str("status"), Some("cancelled"));
        insert_event(&data.db, "event_3");
        let enable = endpoints::EndpointChange { state: Some(endpoints::StateChange::Enable { catchup_chain: "catchup_9".into() }), ..disable };
        let e = block_on(endpoints::update(control, data, "endpoint_a", &enable)).unwrap().unwrap();
        assert_eq!((e.state.as_str(), e.disabled_reason), ("enabled", None));
        let w = row(&control.db, "SELECT catchup_pos, catchup_end, catchup_chain FROM webhook_endpoints");
        assert_eq!((w.int("catchup_pos"), w.int("catchup_end"), w.str("catchup_chain")), (Some(2), Some(3), Some("catchup_9")));
        assert_eq!(block_on(endpoints::update(control, data, "endpoint_x", &enable)).unwrap(), None);
    });
}

#[test]
fn deleting_an_endpoint_cancels_its_retries() {
    both(|control, data| {
        insert_endpoint(&control.db, "endpoint_a", "https://a.example", "s");
        delivery(&data.db, "delivery_1", "endpoint_a", "retrying", "t");
        assert!(block_on(endpoints::delete(control, data, "endpoint_a")).unwrap());
        assert!(!block_on(endpoints::delete(control, data, "endpoint_a")).unwrap());
        assert_eq!(row(&data.db, "SELECT status FROM deliveries").str("status"), Some("cancelled"));
    });
}

#[test]
fn a_purged_directory_leaves_no_row_on_either_database() {
    both(|control, data| {
        let directory = "INSERT INTO directories (id, organization_id, name, provider, state, created_at, updated_at) \
                         VALUES ('d1', 'o1', 'D', 'okta', 'deleting', 't', 't')";
        exec(&control.db, directory);
        if !crate::storage::db::same_database(control, data) {
            exec(&data.db, directory);
        }
        exec(&control.db, "INSERT INTO directory_tokens (id, directory_id, token_hash, hint, created_at) VALUES ('t1', 'd1', 'h', 'x', 't')");
        exec(&data.db, "INSERT INTO users (id, directory_id, user_name, resource, created_at, updated_at) VALUES ('u1', 'd1', 'a', '{}', 't', 't')");
        assert_eq!(block_on(directory_purge::deleting(control)).unwrap(), ["d1"]);
        assert!(!block_on(directory_purge::purge_round(data, "d1")).unwrap());
        block_on(directory_purge::finish(control, data, "d1")).unwrap();
        for (db, table) in [(control, "directories"), (control, "directory_tokens"), (data, "directories"), (data, "users")] {
            assert_eq!(row(&db.db, &format!("SELECT count(*) AS n FROM {table}")).int("n"), Some(0), "{table}");
        }
    });
}
