//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): filter, sort, page and
//! project in SQL, with `totalResults` from the directory's counters when
//! there is no filter.

use super::render;
use super::{paging, wants, Ctx};
use crate::app::HttpResponse;
use crate::scim::filter::{parse_attr_list, parse_attr_path, parse_filter, AttrPath, Filter};
use crate::scim::limits;
use crate::scim::projection::project;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::storage::users_groups::list::{self as pages, Listed, Page, Plan, Window};
use crate::storage::{Batch, Db};
use serde_json::{json, Value};

/// `ListResponse` schema URN (RFC 7644 §3.4.2).
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// `SearchRequest` schema URN (RFC 7644 §3.4.3).
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list request, from the query string or a `.search` body.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// The filter as sent (trimmed), naming the query for [`super::paging`].
    pub filter_text: String,
    /// 1-based; below 1 means 1 (docs/IDP-QUIRKS.md § Required server behaviour 10).
    pub start_index: u64,
    pub count: Option<u64>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

/// The largest `startIndex` honoured; beyond it every page is empty anyway.
const MAX_START_INDEX: i64 = 1_000_000_000;

/// An integer parameter, clamped rather than trusted: a whole number too
/// large for 64 bits (`99999999999999999999`, `1e400`) saturates; a
/// fraction or a value that is no number at all is `invalidValue`.
fn integer(name: &str, v: &Value) -> Result<i64, ScimError> {
    // `as` saturates on floats (and 1e400 parses to infinity).
    let whole = |f: f64| (f.is_infinite() || f.fract() == 0.0).then_some(f as i64);
    let from_text = |s: &str| -> Option<i64> {
        let s = s.trim();
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(s.parse::<i64>().unwrap_or(if s.starts_with('-') { i64::MIN } else { i64::MAX }));
        }
        s.parse::<f64>().ok().and_then(whole)
    };
    v.as_i64()
        .or_else(|| v.as_u64().map(|_| i64::MAX))
        .or_else(|| v.as_f64().and_then(whole))
        .or_else(|| v.as_str().and_then(from_text))
        .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer")))
}

impl ListQuery {
    fn build(
        filter: Option<&str>,
        start: Option<&Value>,
        count: Option<&Value>,
        sort_by: Option<&str>,
        order: Option<&str>,
        attributes: Option<String>,
        excluded: Option<String>,
    ) -> Result<Self, ScimError> {
        limits::check_filter(filter.unwrap_or_default())?;
        for (name, list) in [("attributes", &attributes), ("excludedAttributes", &excluded)] {
            limits::check_attribute_names(name, list.as_deref().unwrap_or_default())?;
        }
        let filter_text = filter.map(str::trim).unwrap_or_default().to_string();
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(parse_filter(f).map_err(|e| ScimError::invalid_filter(format!("Invalid filter: {e}")))?),
            None => None,
        };
        let start_index = match start {
            Some(v) => u64::try_from(integer("startIndex", v)?.clamp(1, MAX_START_INDEX)).unwrap_or(1),
            None => 1,
        };
        let count = match count {
            Some(v) => Some(u64::try_from(integer("count", v)?.max(0)).unwrap_or(0)),
            None => None,
        };
        let sort_by = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(parse_attr_path(s).map_err(|e| ScimError::invalid_value(format!("sortBy: {e}")))?),
            None => None,
        };
        let descending = match order.map(|o| o.trim().to_ascii_lowercase()) {
            None => false,
            Some(o) if o == "ascending" || o.is_empty() => false,
            Some(o) if o == "descending" => true,
            Some(o) => return Err(ScimError::invalid_value(format!("sortOrder must be ascending or descending, not {o}"))),
        };
        let list = |name: &str, v: Option<String>| -> Result<Vec<AttrPath>, ScimError> {
            v.map(|s| parse_attr_list(&s).map_err(|e| ScimError::invalid_value(format!("{name}: {e}")))).transpose().map(Option::unwrap_or_default)
        };
        Ok(ListQuery {
            filter,
            filter_text,
            start_index,
            count,
            sort_by,
            descending,
            attributes: list("attributes", attributes)?,
            excluded: list("excludedAttributes", excluded)?,
        })
    }
}

/// `GET /Users?…`, `GET /Groups?…`.
pub async fn from_query<D: Db>(ctx: &Ctx<'_, '_, D>, kind: ResourceKind) -> Result<HttpResponse, ScimError> {
    let r = ctx.req;
    let num = |k: &str| r.param(k).map(|v| Value::String(v.to_string()));
    let q = ListQuery::build(
        r.param("filter"),
        num("startIndex").as_ref(),
        num("count").as_ref(),
        r.param("sortBy"),
        r.param("sortOrder"),
        r.param("attributes").map(str::to_string),
        r.param("excludedAttributes").map(str::to_string),
    )?;
    list(ctx, &[kind], &q).await
}

/// `POST …/.search` (RFC 7644 §3.4.3); `kind` None searches Users and Groups.
pub async fn from_body<D: Db>(ctx: &Ctx<'_, '_, D>, kind: Option<ResourceKind>) -> Result<HttpResponse, ScimError> {
    let body = ctx.body()?;
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("A SearchRequest is a JSON object"))?;
    let get = |k: &str| obj.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v);
    if let Some(s) = get("schemas") {
        let ok = s.as_array().is_some_and(|a| a.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_SCHEMA))));
        if !ok {
            return Err(ScimError::invalid_syntax(format!("schemas must contain {SEARCH_SCHEMA}")));
        }
    }
    let text = |k: &str| -> Result<Option<&str>, ScimError> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string"))),
        }
    };
    let names = |k: &str| -> Result<Option<String>, ScimError> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) => Ok(Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be an array of strings"))),
        }
    };
    let q = ListQuery::build(
        text("filter")?,
        get("startIndex").filter(|v| !v.is_null()),
        get("count").filter(|v| !v.is_null()),
        text("sortBy")?,
        text("sortOrder")?,
        names("attributes")?,
        names("excludedAttributes")?,
    )?;
    match kind {
        Some(k) => list(ctx, &[k], &q).await,
        None => list(ctx, &[ResourceKind::User, ResourceKind::Group], &q).await,
    }
}

impl ListQuery {
    fn storage(&self) -> pages::Query<'_> {
        pages::Query { filter: self.filter.as_ref(), sort_by: self.sort_by.as_ref(), descending: self.descending }
    }
}

/// Whether the related list (a user's groups, a group's members) is part of the answer.
fn wants_related(kind: ResourceKind, q: &ListQuery) -> bool {
    wants(kind, if kind == ResourceKind::User { "groups" } else { "members" }, &q.attributes, &q.excluded)
}

async fn list<D: Db>(ctx: &Ctx<'_, '_, D>, kinds: &[ResourceKind], q: &ListQuery) -> Result<HttpResponse, ScimError> {
    let max = u64::try_from(ctx.svc.cfg.max_results).unwrap_or(500);
    let count = q.count.unwrap_or(max).min(max);
    let dir = ctx.cred.directory_id;
    // An id-ordered page of one type may continue where this isolate's last page ended.
    let continues =
        (kinds.len() == 1 && q.sort_by.is_none()).then(|| kinds.first().map(|k| paging::key(dir, k.name(), &q.filter_text, q.start_index))).flatten();
    let after = continues.as_deref().and_then(|k| paging::after(k, ctx.svc.now));
    // Root search: a filter that one type cannot evaluate matches none of it.
    let mut plans: Vec<Plan> = Vec::new();
    let window = Window { offset: q.start_index - 1, limit: count, after: after.as_deref() };
    for &kind in kinds {
        match pages::plan(kind, dir, &q.storage(), &window, wants_related(kind, q)) {
            Ok(p) => plans.push(p),
            Err(e) if kinds.len() == 1 => return Err(e),
            Err(_) => {}
        }
    }
    if kinds.len() > 1 && plans.is_empty() {
        return Err(ScimError::invalid_filter("The filter matches no resource type"));
    }
    // Counts first, then pages: one round trip for one type.
    let mut b = Batch::new();
    let totals: Vec<_> = plans.iter().map(|p| p.read_total(&mut b)).collect();
    let single = plans.len() == 1;
    let page = if single { plans.first().and_then(|p| p.read_page(&mut b)) } else { None };
    let (_, r) = ctx.read(b).await?;
    let totals: Vec<u64> = totals.iter().map(|t| t.get(&r)).collect();
    let total: u64 = totals.iter().sum();
    let mut resources = Vec::new();
    if single {
        let page = page.map(|p| p.get(&r)).unwrap_or_default();
        resources = render_page(ctx, &page, q);
        // The next page of this query may start after this one's last id.
        if let (true, Some(last), Some(kind)) = (continues.is_some(), page.last_id, kinds.first()) {
            let next = q.start_index + u64::try_from(resources.len()).unwrap_or(0);
            paging::remember(paging::key(dir, kind.name(), &q.filter_text, next), last, ctx.svc.now);
        }
    } else if count > 0 {
        // Users first, then groups, as one sequence for paging.
        let mut skip = q.start_index - 1;
        let mut room = count;
        for (p, t) in plans.iter().zip(&totals) {
            if room == 0 {
                break;
            }
            if skip >= *t {
                skip -= t;
                continue;
            }
            let sub = pages::plan(p.kind(), dir, &q.storage(), &Window { offset: skip, limit: room, after: None }, wants_related(p.kind(), q))?;
            let mut b = Batch::new();
            let read = sub.read_page(&mut b);
            let (_, r) = ctx.read(b).await?;
            let page = render_page(ctx, &read.map(|p| p.get(&r)).unwrap_or_default(), q);
            room = room.saturating_sub(u64::try_from(page.len()).unwrap_or(0));
            skip = 0;
            resources.extend(page);
        }
    }
    Ok(HttpResponse::scim(
        200,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": q.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

/// The page's resources as SCIM shows them, projected as the query asks;
/// a group's members only when they are part of the answer.
fn render_page<D: Db>(ctx: &Ctx<'_, '_, D>, page: &Page, q: &ListQuery) -> Vec<Value> {
    let project_it = |kind, v: Value| if q.attributes.is_empty() && q.excluded.is_empty() { v } else { project(kind, &v, &q.attributes, &q.excluded) };
    page.items
        .iter()
        .map(|item| match item {
            Listed::User(u, groups) => project_it(ResourceKind::User, render::user(u, groups, &ctx.base)),
            Listed::Group(g, members) => {
                let members = wants_related(ResourceKind::Group, q).then_some(members.as_slice());
                project_it(ResourceKind::Group, render::group(g, members, &ctx.base))
            }
        })
        .collect()
}
