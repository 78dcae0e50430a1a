//! Whitelabel hostnames: each maps to one organisation and serves SCIM only
//! for that organisation's directories.

use super::page::Page;
use super::{body, ok, required_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::organizations::{self, DomainRecord};
use crate::storage::{Db, DbError};
use serde_json::{json, Value};

fn view(d: &DomainRecord) -> Value {
    json!({ "object": "domain", "hostname": d.hostname, "organization_id": d.organization_id, "created_at": d.created_at })
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
    let domain = organizations::create_domain(svc.control(), &host, &org, &svc.now_text()).await.map_err(|e| match e {
        DbError::Precondition => ApiError::not_found("Organization not found"),
        DbError::Unique(_) => ApiError::conflict("This hostname is already mapped"),
        e => ApiError::from(e),
    })?;
    ok(201, &domain.as_ref().map(view).unwrap_or_default())
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let domains = organizations::list_domains(svc.control(), &page, req.param("organization_id")).await?;
    ok(200, &page.answer(domains.iter().map(view).collect(), |v| v["hostname"].as_str().map(str::to_string)))
}

pub async fn delete<D: Db>(svc: &Services<'_, D>, host: &str) -> ApiResult {
    if !organizations::delete_domain(svc.control(), &host.to_ascii_lowercase()).await? {
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
