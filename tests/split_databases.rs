//! Control and data in two databases: the split schemas equal the shared
//! history, and the use cases work with every statement on the database
//! that owns its tables (a statement that names a table of the other
//! database fails with "no such table").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use rollcall::storage::sqlite::{block_on, Sqlite};
use rollcall::storage::{Db, RowExt, Stmt};
use std::collections::{BTreeMap, BTreeSet};

/// Table → its columns and indexes, as SQLite describes them.
fn schema(db: &Sqlite) -> BTreeMap<String, String> {
    let q = |sql: &str, p: Vec<rollcall::storage::SqlValue>| block_on(db.batch(vec![Stmt::new(sql, p)])).unwrap().remove(0).rows;
    let mut out = BTreeMap::new();
    for t in q("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", vec![]) {
        let name = t.string("name");
        let cols = q("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1)", vec![name.as_str().into()]);
        let idx = q(
            "SELECT il.name, il.\"unique\", il.partial, (SELECT group_concat(ii.name, ',') FROM pragma_index_info(il.name) ii) AS cols, \
             (SELECT sql FROM sqlite_master m WHERE m.name = il.name) AS sql FROM pragma_index_list(?1) il ORDER BY il.name",
            vec![name.as_str().into()],
        );
        out.insert(name, format!("{cols:?}\n{idx:?}"));
    }
    out
}

#[test]
fn control_and_data_schemas_together_equal_the_shared_history() {
    let shared = schema(&Sqlite::open_migrated().unwrap());
    let control = schema(&Sqlite::open_control().unwrap());
    let data = schema(&Sqlite::open_data().unwrap());
    let both: BTreeSet<&String> = control.keys().filter(|t| data.contains_key(*t)).collect();
    assert_eq!(both.into_iter().cloned().collect::<Vec<_>>(), vec!["directories".to_string(), "guard".to_string()], "only these are on both sides");
    for (side, tables) in [("control", &control), ("data", &data)] {
        for (table, def) in tables.iter() {
            assert_eq!(Some(def), shared.get(table), "{side}.{table} differs from migrations/");
        }
    }
    let split: BTreeSet<&String> = control.keys().chain(data.keys()).collect();
    assert_eq!(split, shared.keys().collect::<BTreeSet<_>>(), "every table of migrations/ is on one side");
}

/// A directory's life on separate databases, whatever the environment says:
/// each statement runs where its tables are (the other side has no such
/// table), and each side holds only its own rows.
#[test]
fn a_directory_lives_on_two_databases() {
    let app = support::App::with_databases(true);
    let dir = app.new_directory("okta");
    let u = app.scim(&dir, "POST", "/Users", Some(serde_json::json!({"userName": "a@x.io", "emails": [{"value": "a@x.io"}]})));
    assert_eq!(u.status, 201, "{:?}", u.body);
    let uid = u.body["id"].as_str().unwrap().to_string();
    let g = app.scim(&dir, "POST", "/Groups", Some(serde_json::json!({"displayName": "G", "members": [{"value": uid}]})));
    assert_eq!(g.status, 201, "{:?}", g.body);
    let found = app.scim(&dir, "GET", "/Users?filter=emails%20eq%20%22a@x.io%22", None);
    assert_eq!(found.body["totalResults"], 1);
    let d = app.admin("GET", &format!("/v1/directories/{}", dir.id), None);
    assert_eq!((d.body["state"].as_str(), d.body["user_count"].as_i64(), d.body["group_count"].as_i64()), (Some("linked"), Some(1), Some(1)));
    let names = app.event_names(&dir);
    assert_eq!(names, ["dsync.activated", "dsync.user.created", "dsync.group.created", "dsync.group.user_added"]);
    let count = |db: &Sqlite, sql: &str| block_on(db.batch(vec![Stmt::new(sql, vec![])])).unwrap()[0].rows[0].int("n").unwrap();
    assert_eq!(count(app.data_db(), "SELECT count(*) AS n FROM events"), 4);
    assert_eq!(count(&app.db, "SELECT count(*) AS n FROM directory_tokens"), 1);
    let states = |db: &Sqlite| block_on(db.batch(vec![Stmt::new("SELECT state FROM directories", vec![])])).unwrap()[0].rows[0].string("state");
    assert_eq!((states(&app.db), states(app.data_db())), ("linked".to_string(), "linked".to_string()));
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}", dir.id), None).status, 202);
    assert_eq!((states(&app.db), states(app.data_db())), ("deleting".to_string(), "deleting".to_string()));
    assert_eq!(app.scim(&dir, "GET", "/Users", None).status, 401);
}
