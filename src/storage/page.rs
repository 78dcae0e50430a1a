//! Keyset pagination by id (ids are time-ordered UUID v7s): the management
//! API's `limit` / `after` / `before`.

use super::{SqlValue, Stmt};

/// One page's window: at most `limit` rows after or before an id.
#[derive(Debug, Clone)]
pub struct Keyset {
    pub limit: i64,
    pub after: Option<String>,
    pub before: Option<String>,
}

impl Keyset {
    /// `SELECT {select} FROM {from} WHERE {cond} AND <cursor> ORDER BY {key} … LIMIT limit+1`.
    /// `key` is the id column compared with the cursor.
    pub fn stmt(&self, select: &str, from: &str, cond: &str, params: Vec<SqlValue>, key: &str) -> Stmt {
        let mut params = params;
        let (cursor, order) = match (&self.after, &self.before) {
            (_, Some(b)) => {
                params.push(SqlValue::Text(b.clone()));
                (format!(" AND {key} < ?"), "DESC")
            }
            (Some(a), None) => {
                params.push(SqlValue::Text(a.clone()));
                (format!(" AND {key} > ?"), "ASC")
            }
            (None, None) => (String::new(), "ASC"),
        };
        params.push(SqlValue::Int(self.limit + 1));
        Stmt::new(format!("SELECT {select} FROM {from} WHERE {cond}{cursor} ORDER BY {key} {order} LIMIT ?"), params)
    }
}
