//! Control and data in two databases: the split schemas equal the shared
//! history, and the use cases work with every statement on the database
//! that owns its tables (a statement that names a table of the other
//! database fails with "no such table").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

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
