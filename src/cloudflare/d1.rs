//! The storage port on D1: one `batch()` per call, atomic.

use crate::storage::{Db, DbError, Row, SqlValue, Stmt, StmtResult};
use wasm_bindgen::JsValue;
use worker::D1Database;

pub struct D1(pub D1Database);

fn js(v: &SqlValue) -> JsValue {
    match v {
        SqlValue::Null => JsValue::NULL,
        // Exact below 2^53; ids and large numbers travel as text.
        SqlValue::Int(n) => JsValue::from_f64(*n as f64),
        SqlValue::Real(f) => JsValue::from_f64(*f),
        SqlValue::Text(s) => JsValue::from_str(s),
    }
}

impl Db for D1 {
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>, DbError> {
        if stmts.is_empty() {
            return Ok(Vec::new());
        }
        let mut prepared = Vec::with_capacity(stmts.len());
        for s in &stmts {
            let params: Vec<JsValue> = s.params.iter().map(js).collect();
            let p = self.0.prepare(&s.sql).bind(&params).map_err(|e| DbError::Other(e.to_string()))?;
            prepared.push(p);
        }
        let results = self.0.batch(prepared).await.map_err(|e| DbError::from_message(&e.to_string()))?;
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            let rows: Vec<Row> = r.results().map_err(|e| DbError::Other(e.to_string()))?;
            let meta = r.meta().ok().flatten();
            out.push(StmtResult {
                rows,
                rows_read: meta.as_ref().and_then(|m| m.rows_read).unwrap_or(0) as u64,
                rows_written: meta.as_ref().and_then(|m| m.rows_written).unwrap_or(0) as u64,
            });
        }
        Ok(out)
    }
}
