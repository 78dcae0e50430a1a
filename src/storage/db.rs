//! The storage port: one call = one atomic batch of statements.
//!
//! D1 has no interactive transactions; `batch()` is one transaction of
//! statements decided in advance, so every use case is shaped as
//! "read batch → decide in Rust → write batch with preconditions".

use serde_json::{Map, Value};
use std::cell::Cell;

/// A bound parameter. D1 carries integers as JS numbers (exact below 2^53).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}
impl From<&String> for SqlValue {
    fn from(s: &String) -> Self {
        SqlValue::Text(s.clone())
    }
}
impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Int(n)
    }
}
impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Int(i64::from(b))
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One SQL statement with its parameters (`?1`, `?2`, … or `?`).
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, params: Vec<SqlValue>) -> Self {
        Stmt { sql: sql.into(), params }
    }
}

/// Builds a [`Stmt`]: `stmt!("SELECT … WHERE id = ?1", id)`.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::storage::Stmt::new($sql, vec![$($crate::storage::SqlValue::from($p)),*])
    };
}

/// A result row, column name → JSON value.
pub type Row = Map<String, Value>;

/// The rows and the cost of one statement.
#[derive(Debug, Clone, Default)]
pub struct StmtResult {
    pub rows: Vec<Row>,
    pub rows_read: u64,
    pub rows_written: u64,
}

/// What a failed batch means to the use case. Everything is rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// A `guard` precondition failed: someone else changed the state read.
    Precondition,
    /// A UNIQUE constraint failed; the text names the index or columns.
    Unique(String),
    /// Anything else: logged, answered as an internal error.
    Other(String),
}

impl DbError {
    /// Classifies a driver message (SQLite's text, which D1 passes through).
    pub fn from_message(msg: &str) -> Self {
        if msg.contains("precondition_failed") {
            DbError::Precondition
        } else if let Some(at) = msg.find("UNIQUE constraint failed") {
            DbError::Unique(msg.get(at..).unwrap_or(msg).to_string())
        } else {
            DbError::Other(msg.to_string())
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Precondition => write!(f, "precondition failed"),
            DbError::Unique(m) | DbError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for DbError {}

/// The database: D1 in the Worker, SQLite natively.
#[allow(async_fn_in_trait)]
pub trait Db {
    /// Runs the statements as one transaction; all or nothing.
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>, DbError>;
}

/// Counts calls and rows, so responses can report what a request cost.
pub struct Metered<'a, D: Db> {
    inner: &'a D,
    pub calls: Cell<u64>,
    pub rows_read: Cell<u64>,
    pub rows_written: Cell<u64>,
}

impl<'a, D: Db> Metered<'a, D> {
    pub fn new(inner: &'a D) -> Self {
        Metered { inner, calls: Cell::new(0), rows_read: Cell::new(0), rows_written: Cell::new(0) }
    }
}

impl<D: Db> Db for Metered<'_, D> {
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>, DbError> {
        if stmts.is_empty() {
            return Ok(Vec::new());
        }
        self.calls.set(self.calls.get() + 1);
        let out = self.inner.batch(stmts).await?;
        for r in &out {
            self.rows_read.set(self.rows_read.get() + r.rows_read);
            self.rows_written.set(self.rows_written.get() + r.rows_written);
        }
        Ok(out)
    }
}

/// Typed access to row columns; D1 numbers may arrive as floats.
pub trait RowExt {
    fn str(&self, col: &str) -> Option<&str>;
    fn string(&self, col: &str) -> String {
        self.str(col).unwrap_or_default().to_string()
    }
    fn int(&self, col: &str) -> Option<i64>;
    /// A column holding JSON text, parsed (Null when absent or invalid).
    fn json(&self, col: &str) -> Value {
        self.str(col).and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
    }
}

impl RowExt for Row {
    fn str(&self, col: &str) -> Option<&str> {
        self.get(col).and_then(Value::as_str)
    }
    fn int(&self, col: &str) -> Option<i64> {
        let v = self.get(col)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }
}

/// A batch being built: each statement pushed hands back a [`Slot`], and the
/// results are read through the slots, never by position. Adding a
/// statement therefore cannot shift what another caller reads.
#[derive(Debug, Default)]
pub struct Batch {
    stmts: Vec<Stmt>,
}

/// Where one statement's result will be in a [`Batch`]'s [`Results`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

/// Where a run of statements' results will be (see [`Batch::extend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    start: usize,
    len: usize,
}

impl Slots {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The slot of the `i`-th statement of the run.
    pub fn get(&self, i: usize) -> Option<Slot> {
        (i < self.len).then_some(Slot(self.start + i))
    }
}

impl Batch {
    pub fn new() -> Self {
        Batch { stmts: Vec::new() }
    }
    /// Appends a statement; its result is read through the returned slot.
    pub fn push(&mut self, stmt: Stmt) -> Slot {
        self.stmts.push(stmt);
        Slot(self.stmts.len() - 1)
    }
    /// Appends statements whose results are read together (or not at all).
    pub fn extend(&mut self, stmts: impl IntoIterator<Item = Stmt>) -> Slots {
        let start = self.stmts.len();
        self.stmts.extend(stmts);
        Slots { start, len: self.stmts.len() - start }
    }
    pub fn len(&self) -> usize {
        self.stmts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }
    /// The statements, for a [`Db`] that is handed them directly.
    pub fn into_stmts(self) -> Vec<Stmt> {
        self.stmts
    }
    /// Runs the batch as one transaction.
    /// An empty batch makes no call (and reads as empty everywhere).
    pub async fn run<D: Db>(self, db: &D) -> Result<Results, DbError> {
        if self.stmts.is_empty() {
            return Ok(Results::default());
        }
        Ok(Results { results: db.batch(self.stmts).await? })
    }
}

/// The results of a [`Batch`], read by [`Slot`].
#[derive(Debug, Clone, Default)]
pub struct Results {
    results: Vec<StmtResult>,
}

impl Results {
    /// Results read by position, for a batch that was run in parts (the
    /// statements a caller pushed, after ones it did not).
    pub fn from_vec(results: Vec<StmtResult>) -> Self {
        Results { results }
    }
    /// The rows of the statement at `slot` (empty when it returned none).
    pub fn rows(&self, slot: Slot) -> &[Row] {
        rows(&self.results, slot.0)
    }
    /// The first row of the statement at `slot`.
    pub fn first(&self, slot: Slot) -> Option<&Row> {
        self.rows(slot).first()
    }
    /// The whole result (rows and cost) of the statement at `slot`.
    pub fn get(&self, slot: Slot) -> Option<&StmtResult> {
        self.results.get(slot.0)
    }
    /// Moves the results of a run of statements out.
    pub fn take(&mut self, slots: Slots) -> Vec<StmtResult> {
        let end = (slots.start + slots.len).min(self.results.len());
        let start = slots.start.min(end);
        self.results.get_mut(start..end).map(|r| r.iter_mut().map(std::mem::take).collect()).unwrap_or_default()
    }
}

/// Runs a control batch and a data batch: as one batch (one transaction)
/// when the two handles are the same database, else the control batch first
/// and the data batch only when it succeeded. Use cases that touch both
/// kinds of table go through this, so a deployment with one database pays
/// one round trip, as before the split.
pub async fn run_pair<D: Db>(control_db: &D, control: Batch, data_db: &D, data: Batch) -> Result<(Results, Results), DbError> {
    if same_database(control_db, data_db) {
        let n = control.len();
        let mut all = control;
        all.stmts.extend(data.stmts);
        let mut results = all.run(control_db).await?.results;
        let data_results = results.split_off(n.min(results.len()));
        return Ok((Results { results }, Results { results: data_results }));
    }
    let c = control.run(control_db).await?;
    let d = data.run(data_db).await?;
    Ok((c, d))
}

/// Whether two handles are one database, so one batch (one transaction)
/// can span what each holds. Handles are compared, not their contents:
/// a deployment binds each database once.
pub fn same_database<D: Db>(a: &D, b: &D) -> bool {
    std::ptr::eq(a, b)
}

/// Result rows of statement `i` of a batch (empty when absent).
pub fn rows(results: &[StmtResult], i: usize) -> &[Row] {
    results.get(i).map(|r| r.rows.as_slice()).unwrap_or(&[])
}

/// First row of statement `i` of a batch.
pub fn first(results: &[StmtResult], i: usize) -> Option<&Row> {
    rows(results, i).first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_messages_are_classified() {
        assert_eq!(DbError::from_message("D1_ERROR: CHECK constraint failed: precondition_failed: SQLITE_CONSTRAINT"), DbError::Precondition);
        assert!(matches!(
            DbError::from_message("Error: UNIQUE constraint failed: users.directory_id, users.user_name"),
            DbError::Unique(m) if m.starts_with("UNIQUE constraint failed: users.")
        ));
        assert!(matches!(DbError::from_message("no such table: x"), DbError::Other(_)));
    }

    #[test]
    fn integers_are_read_from_floats_and_text() {
        let row: Row = serde_json::from_str(r#"{"a": 3.0, "b": "7", "c": 5}"#).unwrap();
        assert_eq!(row.int("a"), Some(3));
        assert_eq!(row.int("b"), Some(7));
        assert_eq!(row.int("c"), Some(5));
        assert_eq!(row.int("d"), None);
    }
}
