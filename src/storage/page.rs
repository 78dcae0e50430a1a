//! Keyset pagination by id (ids are time-ordered UUID v7s, so id order is
//! creation order): the management API's `limit` / `after` / `before` /
//! `order`.

use super::{SqlValue, Stmt};

/// One page's window: at most `limit` rows after or before an id, in
/// ascending or descending id order. `after` is the next page in that
/// order and `before` the previous one: descending, `after` an id is the
/// older rows.
#[derive(Debug, Clone)]
pub struct Keyset {
    pub limit: i64,
    pub after: Option<String>,
    pub before: Option<String>,
    pub descending: bool,
}

impl Keyset {
    /// `SELECT {select} FROM {from} WHERE {cond} AND <cursor> ORDER BY {key} … LIMIT limit+1`.
    /// `key` is the id column compared with the cursor. A `before` page is
    /// read walking backwards (nearest the cursor first): the caller turns
    /// it round.
    pub fn stmt(&self, select: &str, from: &str, cond: &str, params: Vec<SqlValue>, key: &str) -> Stmt {
        let mut params = params;
        let backwards = self.before.is_some();
        let (cmp, order) = if self.descending != backwards { ("<", "DESC") } else { (">", "ASC") };
        let cursor = match self.before.as_ref().or(self.after.as_ref()) {
            Some(c) => {
                params.push(SqlValue::Text(c.clone()));
                format!(" AND {key} {cmp} ?")
            }
            None => String::new(),
        };
        params.push(SqlValue::Int(self.limit + 1));
        Stmt::new(format!("SELECT {select} FROM {from} WHERE {cond}{cursor} ORDER BY {key} {order} LIMIT ?"), params)
    }
}

/// The longest LIKE or GLOB pattern D1 runs, in bytes: a longer one fails
/// the statement ("LIKE or GLOB pattern too complex") once a row is tested.
/// The native adapter sets the same limit.
pub const LIKE_PATTERN_MAX_BYTES: usize = 50;

/// The condition that `column` holds `s`, in any ASCII case, and its
/// parameter. `instr` over `lower` (ASCII only, as LIKE folds case) rather
/// than `LIKE '%s%'`: it takes `s` literally and has no length limit, and a
/// substring test scans either way.
pub(crate) fn contains(column: &str, s: &str) -> (String, SqlValue) {
    (format!("instr(lower({column}), lower(?)) > 0"), SqlValue::Text(s.to_string()))
}
