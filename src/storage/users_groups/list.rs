//! SCIM list pages (RFC 7644 §3.4.2): filter, sort and page in SQL, with
//! the total from the directory's counters when there is no filter.

use super::filter::{order_expr, where_clause, Scope};
use super::{count_column, Read, Ref, GROUP_COLUMNS, USER_COLUMNS};
use crate::directory::{GroupRecord, UserRecord};
use crate::scim::filter::{AttrPath, Filter};
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::storage::{Batch, Results, Row, RowExt, Slot, SqlValue, Stmt};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a list asks of one resource type.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub filter: Option<&'a Filter>,
    pub sort_by: Option<&'a AttrPath>,
    pub descending: bool,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Rows to skip.
    pub offset: u64,
    pub limit: u64,
    /// Start after this id instead of skipping `offset` rows (honoured in
    /// id order only).
    pub after: Option<&'a str>,
}

/// One resource type's statements for a page. The related list (a user's
/// groups, a group's members) comes inline as a JSON column when the page
/// is in id order (SQLite then computes it only for the rows returned),
/// else from a second statement over the same page.
pub struct Plan {
    kind: ResourceKind,
    total: Stmt,
    page: Option<Stmt>,
    related: Option<Stmt>,
}

/// `[[id, display], …]` of a user's groups / a group's members, in id order.
fn inline_related(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "(SELECT json_group_array(json_array(g.id, g.display_name)) FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id) AS related",
        ResourceKind::Group => "(SELECT json_group_array(json_array(m.user_id, '')) FROM memberships m WHERE m.group_id = g.id) AS related",
    }
}

/// Plans a page of `kind` in the directory; `related` asks for each
/// resource's related list. An error is a filter or `sortBy` this type
/// cannot evaluate.
pub fn plan(kind: ResourceKind, directory_id: &str, q: &Query, w: &Window, related: bool) -> Result<Plan, ScimError> {
    let (alias, table, columns) = match kind {
        ResourceKind::User => ("u", "users", USER_COLUMNS),
        ResourceKind::Group => ("g", "groups", GROUP_COLUMNS),
    };
    let scope = Scope { kind, alias, directory_id };
    let mut where_sql = format!("{alias}.directory_id = ?");
    let mut params = vec![SqlValue::Text(directory_id.to_string())];
    if let Some(f) = q.filter {
        let frag = where_clause(&scope, f)?;
        where_sql.push_str(&format!(" AND ({})", frag.sql));
        params.extend(frag.params);
    }
    let total = if q.filter.is_none() {
        Stmt::new(format!("SELECT {} AS n FROM directories WHERE id = ?", count_column(kind)), vec![SqlValue::Text(directory_id.to_string())])
    } else {
        Stmt::new(format!("SELECT count(*) AS n FROM {table} {alias} WHERE {where_sql}"), params.clone())
    };
    if w.limit == 0 {
        return Ok(Plan { kind, total, page: None, related: None });
    }
    let (mut page_where, mut page_params) = (where_sql, params);
    let offset = match w.after.filter(|_| q.sort_by.is_none()) {
        Some(id) => {
            page_where.push_str(&format!(" AND {alias}.id > ?"));
            page_params.push(SqlValue::Text(id.to_string()));
            0
        }
        None => w.offset,
    };
    let dir = if q.descending { "DESC" } else { "ASC" };
    let order = match q.sort_by {
        Some(p) => {
            let e = order_expr(&scope, p)?;
            format!("({e}) IS NULL, {e} {dir}, {alias}.id")
        }
        None => format!("{alias}.id"),
    };
    page_params.push(SqlValue::Int(i64::try_from(w.limit).unwrap_or(i64::MAX)));
    page_params.push(SqlValue::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    let inline = related && q.sort_by.is_none();
    let select = if inline { format!("{columns}, {}", inline_related(kind)) } else { columns.to_string() };
    let page_sql = format!("SELECT {select} FROM {table} {alias} WHERE {page_where} ORDER BY {order} LIMIT ? OFFSET ?");
    let ids_sql = format!("SELECT {alias}.id FROM {table} {alias} WHERE {page_where} ORDER BY {order} LIMIT ? OFFSET ?");
    let related = (related && !inline).then(|| match kind {
        ResourceKind::User => Stmt::new(
            format!("SELECT m.user_id AS owner, g.id AS id, g.display_name AS display FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id IN ({ids_sql}) ORDER BY g.id"),
            page_params.clone(),
        ),
        ResourceKind::Group => Stmt::new(
            format!("SELECT m.group_id AS owner, m.user_id AS id, '' AS display FROM memberships m WHERE m.group_id IN ({ids_sql}) ORDER BY m.user_id"),
            page_params.clone(),
        ),
    });
    Ok(Plan { kind, total, page: Some(Stmt::new(page_sql, page_params)), related })
}

impl Plan {
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }
    /// How many resources match (the whole list, not the page).
    pub fn read_total(&self, b: &mut Batch) -> Read<u64> {
        Read::push(b, self.total.clone(), |rows| rows.first().and_then(|r| r.int("n")).and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
    /// The page itself; None when the page is empty by its length (0).
    pub fn read_page(&self, b: &mut Batch) -> Option<PageRead> {
        let page = b.push(self.page.clone()?);
        let related = self.related.clone().map(|s| b.push(s));
        Some(PageRead { kind: self.kind, page, related })
    }
}

/// A page pushed into a batch.
pub struct PageRead {
    kind: ResourceKind,
    page: Slot,
    related: Option<Slot>,
}

/// One resource of a page with its related list (empty when not asked for).
#[derive(Debug, Clone)]
pub enum Listed {
    User(UserRecord, Vec<Ref>),
    Group(GroupRecord, Vec<Ref>),
}

/// A page read.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Listed>,
    /// The id of the page's last row (where the next id-ordered page starts).
    pub last_id: Option<String>,
}

impl PageRead {
    pub fn get(&self, r: &Results) -> Page {
        let mut refs: BTreeMap<String, Vec<Ref>> = BTreeMap::new();
        for row in self.related.map(|s| r.rows(s)).unwrap_or_default() {
            refs.entry(row.string("owner")).or_default().push(Ref { id: row.string("id"), display: row.string("display") });
        }
        let refs_of = |row: &Row, id: &str| -> Vec<Ref> {
            match row.json("related") {
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| {
                        Some(Ref { id: i.get(0)?.as_str()?.to_string(), display: i.get(1).and_then(Value::as_str).unwrap_or_default().to_string() })
                    })
                    .collect(),
                _ => refs.get(id).cloned().unwrap_or_default(),
            }
        };
        let rows = r.rows(self.page);
        let items = rows
            .iter()
            .filter_map(|row| match self.kind {
                ResourceKind::User => UserRecord::from_row(row).map(|u| {
                    let refs = refs_of(row, &u.id);
                    Listed::User(u, refs)
                }),
                ResourceKind::Group => GroupRecord::from_row(row).map(|g| {
                    let refs = refs_of(row, &g.id);
                    Listed::Group(g, refs)
                }),
            })
            .collect();
        Page { items, last_id: rows.last().and_then(|r| r.str("id")).map(str::to_string) }
    }
}
