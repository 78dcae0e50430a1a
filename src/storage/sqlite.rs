//! The native adapter: the same SQL as D1, on an in-memory SQLite, for tests
//! and benchmarks. Rows read/written are estimated from SQLite's VM counters
//! where D1 would report them; tests of cost use `wrangler dev` instead.

use super::db::{Db, DbError, Row, SqlValue, Stmt, StmtResult};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::Value;
use std::cell::RefCell;

/// An in-memory database with every migration applied.
pub struct Sqlite {
    conn: RefCell<Connection>,
}

impl Sqlite {
    /// Opens an in-memory database and applies `migrations/*.sql` in order:
    /// the one database every deployment has today.
    pub fn open_migrated() -> Result<Self, DbError> {
        Self::open_with("migrations")
    }

    /// A separate control database (`migrations/split/control`).
    pub fn open_control() -> Result<Self, DbError> {
        Self::open_with("migrations/split/control")
    }

    /// A separate data database (`migrations/split/data`).
    pub fn open_data() -> Result<Self, DbError> {
        Self::open_with("migrations/split/data")
    }

    /// An in-memory database with the `*.sql` files of `dir` (relative to
    /// the crate) applied in name order.
    pub fn open_with(dir: &str) -> Result<Self, DbError> {
        let conn = Connection::open_in_memory().map_err(|e| DbError::Other(e.to_string()))?;
        // D1's limit, so a query that would fail there fails here too.
        conn.set_limit(Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, super::page::LIKE_PATTERN_MAX_BYTES as i32);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| DbError::Other(e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for f in files {
            let sql = std::fs::read_to_string(&f).map_err(|e| DbError::Other(e.to_string()))?;
            conn.execute_batch(&sql).map_err(|e| DbError::Other(format!("{}: {e}", f.display())))?;
        }
        Ok(Sqlite { conn: RefCell::new(conn) })
    }

    fn run_one(conn: &Connection, st: &Stmt) -> Result<StmtResult, rusqlite::Error> {
        let mut prepared = conn.prepare(&st.sql)?;
        for (i, p) in st.params.iter().enumerate() {
            let idx = i + 1;
            match p {
                SqlValue::Null => prepared.raw_bind_parameter(idx, rusqlite::types::Null)?,
                SqlValue::Int(n) => prepared.raw_bind_parameter(idx, n)?,
                SqlValue::Real(f) => prepared.raw_bind_parameter(idx, f)?,
                SqlValue::Text(s) => prepared.raw_bind_parameter(idx, s)?,
            }
        }
        let names: Vec<String> = prepared.column_names().iter().map(|s| s.to_string()).collect();
        let changes_before = conn.total_changes();
        let mut out = StmtResult::default();
        {
            let mut rows = prepared.raw_query();
            while let Some(row) = rows.next()? {
                let mut map = Row::new();
                for (i, name) in names.iter().enumerate() {
                    let v = match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::from(n),
                        ValueRef::Real(f) => Value::from(f),
                        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
                    };
                    map.insert(name.clone(), v);
                }
                out.rows.push(map);
            }
        }
        out.rows_written = conn.total_changes().saturating_sub(changes_before);
        out.rows_read = u64::try_from(out.rows.len()).unwrap_or(0);
        Ok(out)
    }
}

impl Db for Sqlite {
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>, DbError> {
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(|e| DbError::Other(e.to_string()))?;
        let mut results = Vec::with_capacity(stmts.len());
        for st in &stmts {
            match Self::run_one(&tx, st) {
                Ok(r) => results.push(r),
                Err(e) => return Err(DbError::from_message(&format!("{e} (in: {})", st.sql))),
            }
        }
        tx.commit().map_err(|e| DbError::Other(e.to_string()))?;
        Ok(results)
    }
}

/// Runs a future to completion on the current thread (native tests have no
/// runtime; our futures never wait on anything but SQLite, which is sync).
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable functions do nothing with the data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stmt;

    #[test]
    fn a_failed_guard_rolls_back_the_whole_batch() {
        let db = Sqlite::open_migrated().unwrap();
        let r = block_on(db.batch(vec![
            stmt!("INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('org_1', 'A', 't', 't')"),
            crate::storage::guard::unless_exists("conflict", "SELECT 1 FROM organizations WHERE name = 'B'", Vec::new()),
        ]));
        assert_eq!(r.unwrap_err(), DbError::Precondition);
        let rows = block_on(db.batch(vec![stmt!("SELECT count(*) AS n FROM organizations")])).unwrap();
        assert_eq!(rows[0].rows[0]["n"], 0);
    }

    #[test]
    fn a_guard_that_holds_writes_nothing() {
        let db = Sqlite::open_migrated().unwrap();
        let r = block_on(db.batch(vec![crate::storage::guard::unless("x", "1 = 1", Vec::new()), stmt!("SELECT count(*) AS n FROM guard")])).unwrap();
        assert_eq!(r[1].rows[0]["n"], 0);
    }

    #[test]
    fn user_names_are_unique_per_directory_ignoring_case() {
        let db = Sqlite::open_migrated().unwrap();
        let ins = |id: &str, dir: &str, name: &str| {
            stmt!("INSERT INTO users (id, directory_id, user_name, resource, created_at, updated_at) VALUES (?1, ?2, ?3, '{}', 't', 't')", id, dir, name)
        };
        block_on(db.batch(vec![ins("u1", "d1", "Alice@x.io"), ins("u2", "d2", "alice@x.io")])).unwrap();
        let err = block_on(db.batch(vec![ins("u3", "d1", "ALICE@X.IO")])).unwrap_err();
        assert!(matches!(err, DbError::Unique(_)), "{err:?}");
    }
}
