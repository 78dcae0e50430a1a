//! The recent SCIM requests of each directory, for the portal's request
//! debugger (data database; migrations/0005_portal.sql): a ring of
//! [`KEPT`] rows per directory, and one row of refused credentials.

use super::{Batch, Db, DbError, Row, RowExt, SqlValue, Stmt};
use crate::stmt;
use serde_json::Value;

/// Requests kept per directory.
pub const KEPT: i64 = 50;

/// One SCIM request as the debugger shows it. Nothing here is a secret:
/// the caller builds it without bodies, headers or tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRecord {
    pub directory_id: String,
    /// Its number in the directory's ring (set by storage).
    pub n: i64,
    pub at: String,
    pub method: String,
    /// The route pattern, such as `/Users/{id}`.
    pub route: String,
    pub resource_id: Option<String>,
    /// The filter (or other query) with its values masked.
    pub query: Option<String>,
    pub status: i64,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub idp: Option<String>,
    pub user_agent: Option<String>,
    /// `totalResults` of a list.
    pub results: Option<i64>,
    pub event_ids: Vec<String>,
    pub ms: Option<i64>,
}

impl RequestRecord {
    fn from_row(r: &Row) -> Self {
        let opt = |c: &str| r.str(c).map(str::to_string);
        RequestRecord {
            directory_id: r.string("directory_id"),
            n: r.int("n").unwrap_or(0),
            at: r.string("at"),
            method: r.string("method"),
            route: r.string("route"),
            resource_id: opt("resource_id"),
            query: opt("query"),
            status: r.int("status").unwrap_or(0),
            scim_type: opt("scim_type"),
            detail: opt("detail"),
            idp: opt("idp"),
            user_agent: opt("user_agent"),
            results: r.int("results"),
            event_ids: r.json("event_ids").as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default(),
            ms: r.int("ms"),
        }
    }
}

/// A directory's refused credentials, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailures {
    pub count: i64,
    pub first_at: String,
    pub last_at: String,
    pub reason: String,
    pub idp: Option<String>,
    pub user_agent: Option<String>,
}

/// An event a request caused, with how its deliveries went.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    pub id: String,
    pub event: String,
    pub sequence: i64,
    /// The latest attempt per endpoint: `{endpoint_id, status, response_code, attempt}`.
    pub deliveries: Value,
}

/// Appends a request to its directory's ring and drops what falls out of
/// it, in one batch (two statements; each reads the ring's top through
/// the primary key). Written only while the directory has its data row.
pub async fn record<D: Db>(data: &D, r: &RequestRecord) -> Result<(), DbError> {
    let events = serde_json::to_string(&r.event_ids).unwrap_or_else(|_| "[]".into());
    let insert = Stmt::new(
        "INSERT INTO scim_requests (directory_id, n, at, method, route, resource_id, query, status, scim_type, detail, idp, user_agent, results, event_ids, ms) \
         SELECT ?1, COALESCE((SELECT MAX(n) FROM scim_requests WHERE directory_id = ?1), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14 \
         WHERE EXISTS (SELECT 1 FROM directories WHERE id = ?1)",
        vec![
            r.directory_id.as_str().into(),
            r.at.as_str().into(),
            r.method.as_str().into(),
            r.route.as_str().into(),
            r.resource_id.as_deref().into(),
            r.query.as_deref().into(),
            r.status.into(),
            r.scim_type.as_deref().into(),
            r.detail.as_deref().into(),
            r.idp.as_deref().into(),
            r.user_agent.as_deref().into(),
            r.results.map_or(SqlValue::Null, SqlValue::from),
            events.as_str().into(),
            r.ms.map_or(SqlValue::Null, SqlValue::from),
        ],
    );
    let trim = stmt!(
        "DELETE FROM scim_requests WHERE directory_id = ?1 AND n <= (SELECT MAX(n) FROM scim_requests WHERE directory_id = ?1) - ?2",
        r.directory_id.as_str(),
        KEPT
    );
    data.batch(vec![insert, trim]).await.map(|_| ())
}

/// Counts a refused credential against an existing directory.
pub async fn record_auth_failure<D: Db>(
    data: &D,
    directory_id: &str,
    at: &str,
    reason: &str,
    idp: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), DbError> {
    data.batch(vec![stmt!(
        "INSERT INTO scim_auth_failures (directory_id, count, first_at, last_at, reason, idp, user_agent) \
         SELECT ?1, 1, ?2, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM directories WHERE id = ?1) \
         ON CONFLICT (directory_id) DO UPDATE SET count = count + 1, last_at = excluded.last_at, reason = excluded.reason, \
         idp = excluded.idp, user_agent = excluded.user_agent",
        directory_id,
        at,
        reason,
        idp,
        user_agent
    )])
    .await
    .map(|_| ())
}

/// The directory's requests, newest first, with its refused credentials.
pub async fn recent<D: Db>(data: &D, directory_id: &str, limit: i64) -> Result<(Vec<RequestRecord>, Option<AuthFailures>), DbError> {
    let mut b = Batch::new();
    let rows = b.push(stmt!("SELECT * FROM scim_requests WHERE directory_id = ?1 ORDER BY n DESC LIMIT ?2", directory_id, limit.clamp(1, KEPT)));
    let failures = b.push(stmt!("SELECT * FROM scim_auth_failures WHERE directory_id = ?1", directory_id));
    let r = b.run(data).await?;
    let failures = r.first(failures).map(|f| AuthFailures {
        count: f.int("count").unwrap_or(0),
        first_at: f.string("first_at"),
        last_at: f.string("last_at"),
        reason: f.string("reason"),
        idp: f.str("idp").map(str::to_string),
        user_agent: f.str("user_agent").map(str::to_string),
    });
    Ok((r.rows(rows).iter().map(RequestRecord::from_row).collect(), failures))
}

/// The events with these ids in the directory (at most `KEPT * 20` ids are
/// asked, see the caller), each with the latest attempt per endpoint.
pub async fn event_outcomes<D: Db>(data: &D, directory_id: &str, ids: &[String]) -> Result<Vec<EventOutcome>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    let mut b = Batch::new();
    let rows = b.push(stmt!(
        "SELECT e.id, e.event, e.sequence, \
           (SELECT json_group_array(json_object('endpoint_id', d.endpoint_id, 'status', d.status, 'response_code', d.response_code, 'attempt', d.attempt)) \
              FROM deliveries d WHERE d.event_id = e.id \
               AND d.attempt = (SELECT MAX(d2.attempt) FROM deliveries d2 WHERE d2.event_id = e.id AND d2.endpoint_id = d.endpoint_id)) AS deliveries \
         FROM events e WHERE e.id IN (SELECT value FROM json_each(?1)) AND e.directory_id = ?2 ORDER BY e.sequence",
        list.as_str(),
        directory_id
    ));
    let r = b.run(data).await?;
    Ok(r.rows(rows)
        .iter()
        .map(|row| EventOutcome {
            id: row.string("id"),
            event: row.string("event"),
            sequence: row.int("sequence").unwrap_or(0),
            deliveries: row.json("deliveries"),
        })
        .collect())
}

/// Removes a deleted directory's requests and refused credentials.
pub fn purge(directory_id: &str) -> Vec<Stmt> {
    vec![
        stmt!("DELETE FROM scim_requests WHERE directory_id = ?1", directory_id),
        stmt!("DELETE FROM scim_auth_failures WHERE directory_id = ?1", directory_id),
    ]
}
