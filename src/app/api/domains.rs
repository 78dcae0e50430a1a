//! Whitelabel hostnames: each maps to one organisation and serves SCIM only
//! for that organisation's directories.

use super::page::Page;
use super::{body, ok, required_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, DbError, Row, RowExt, SqlValue};
use serde_json::{json, Value};

fn view(r: &Row) -> Value {
    json!({ "object": "domain", "hostname": r.str("hostname"), "organization_id": r.str("organization_id"), "created_at": r.str("created_at") })
}

/// A DNS hostname: labels of letters, digits and hyphens, lower-cased.
fn parse_hostname(s: &str) -> Option<String> {
    let h = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    ok.then_some(h)
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let host = parse_hostname(&required_str(&b, "hostname")?).ok_or_else(|| ApiError::invalid("hostname is not a valid DNS name"))?;
    if svc.cfg.is_default_host(&host) {
        return Err(ApiError::invalid("hostname is one of the default hostnames"));
    }
    let org = required_str(&b, "organization_id")?;
    let now = svc.now_text();
    let r = svc
        .db
        .batch(vec![
            stmt!("INSERT INTO guard (reason) SELECT 'organization' WHERE NOT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)", org.as_str()),
            stmt!("INSERT INTO domains (hostname, organization_id, created_at) VALUES (?1, ?2, ?3)", host.as_str(), org.as_str(), now),
            stmt!("SELECT hostname, organization_id, created_at FROM domains WHERE hostname = ?1", host.as_str()),
        ])
        .await
        .map_err(|e| match e {
            DbError::Precondition => ApiError::not_found("Organization not found"),
            DbError::Unique(_) => ApiError::conflict("This hostname is already mapped"),
            e => ApiError::from(e),
        })?;
    ok(201, &first(&r, 2).map(view).unwrap_or(Value::Null))
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let (cond, params) = match req.param("organization_id") {
        Some(o) => ("organization_id = ?", vec![SqlValue::Text(o.to_string())]),
        None => ("1 = 1", Vec::new()),
    };
    let r = svc.db.batch(vec![page.stmt("hostname, organization_id, created_at", "domains", cond, params, "hostname")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().map(view).collect(), |v| v["hostname"].as_str().map(str::to_string)))
}

pub async fn delete<D: Db>(svc: &Services<'_, D>, host: &str) -> ApiResult {
    let host = host.to_ascii_lowercase();
    let r = svc
        .db
        .batch(vec![
            stmt!("SELECT count(*) AS n FROM domains WHERE hostname = ?1", host.as_str()),
            stmt!("DELETE FROM domains WHERE hostname = ?1", host.as_str()),
        ])
        .await
        .map_err(ApiError::from)?;
    if first(&r, 0).and_then(|r| r.int("n")) != Some(1) {
        return Err(ApiError::not_found("Domain not found"));
    }
    Ok(Outcome::respond(HttpResponse::empty(204)))
}

#[cfg(test)]
mod tests {
    use super::parse_hostname;

    #[test]
    fn hostnames_are_validated_and_lower_cased() {
        assert_eq!(parse_hostname("SCIM.Acme.com."), Some("scim.acme.com".into()));
        assert_eq!(parse_hostname("bad host"), None);
        assert_eq!(parse_hostname("-x.com"), None);
        assert_eq!(parse_hostname(""), None);
    }
}
