//! Organisations and their whitelabel hostnames (control database).
//!
//! An organisation is read with its hostnames in one statement (a
//! correlated `json_group_array`), so the management API answers it in one
//! row read per organisation plus its domains.

use super::guard::{unless, unless_exists};
use super::page::{contains, Keyset};
use super::{Batch, Db, DbError, Row, RowExt, Stmt};
use crate::stmt;

/// An organisation as stored, with its whitelabel hostnames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub domains: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A whitelabel hostname and the organisation it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub hostname: String,
    pub organization_id: String,
    pub created_at: String,
}

/// What an update changes: `None` keeps a field; `external_id: Some(None)`
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct OrganizationChange {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
}

const COLUMNS: &str =
    "o.id, o.name, o.external_id, o.created_at, o.updated_at, (SELECT json_group_array(hostname) FROM domains WHERE organization_id = o.id) AS domains";

const DOMAIN_COLUMNS: &str = "hostname, organization_id, created_at";

impl OrganizationRecord {
    fn from_row(r: &Row) -> Self {
        let domains = r.json("domains").as_array().map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect()).unwrap_or_default();
        OrganizationRecord {
            id: r.string("id"),
            name: r.string("name"),
            external_id: r.str("external_id").map(str::to_string),
            domains,
            created_at: r.string("created_at"),
            updated_at: r.string("updated_at"),
        }
    }
}

impl DomainRecord {
    fn from_row(r: &Row) -> Self {
        DomainRecord { hostname: r.string("hostname"), organization_id: r.string("organization_id"), created_at: r.string("created_at") }
    }
}

fn select(id: &str) -> Stmt {
    stmt!(format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = ?1"), id)
}

/// Aborts the batch unless the organisation exists (a directory or a
/// domain is never created for a missing one).
pub fn guard_exists(organization_id: &str) -> Stmt {
    unless_exists("organization", "SELECT 1 FROM organizations WHERE id = ?1", vec![organization_id.into()])
}

/// Creates an organisation and reads it back in the same batch.
/// `DbError::Unique` when the external id is taken.
pub async fn create<D: Db>(db: &D, id: &str, name: &str, external_id: Option<&str>, now: &str) -> Result<Option<OrganizationRecord>, DbError> {
    let mut b = Batch::new();
    b.push(stmt!("INSERT INTO organizations (id, name, external_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)", id, name, external_id, now));
    let row = b.push(select(id));
    Ok(b.run(db).await?.first(row).map(OrganizationRecord::from_row))
}

/// One page of organisations, in the keyset's id order (one more than
/// `page.limit` when there are more), those whose name holds `search`
/// (any ASCII case) where given.
pub async fn list<D: Db>(db: &D, page: &Keyset, search: Option<&str>) -> Result<Vec<OrganizationRecord>, DbError> {
    let (cond, params) = match search {
        Some(s) => {
            let (c, p) = contains("o.name", s);
            (c, vec![p])
        }
        None => ("1 = 1".to_string(), Vec::new()),
    };
    let mut b = Batch::new();
    let rows = b.push(page.stmt(COLUMNS, "organizations o", &cond, params, "o.id"));
    Ok(b.run(db).await?.rows(rows).iter().map(OrganizationRecord::from_row).collect())
}

pub async fn get<D: Db>(db: &D, id: &str) -> Result<Option<OrganizationRecord>, DbError> {
    let mut b = Batch::new();
    let row = b.push(select(id));
    Ok(b.run(db).await?.first(row).map(OrganizationRecord::from_row))
}

/// The organisation with this `external_id`.
pub async fn get_by_external_id<D: Db>(db: &D, external_id: &str) -> Result<Option<OrganizationRecord>, DbError> {
    let mut b = Batch::new();
    let row = b.push(stmt!(format!("SELECT {COLUMNS} FROM organizations o WHERE o.external_id = ?1"), external_id));
    Ok(b.run(db).await?.first(row).map(OrganizationRecord::from_row))
}

/// Applies `change` and reads the organisation back (None: no such one).
pub async fn update<D: Db>(db: &D, id: &str, change: &OrganizationChange, now: &str) -> Result<Option<OrganizationRecord>, DbError> {
    let mut b = Batch::new();
    b.push(stmt!(
        "UPDATE organizations SET name = coalesce(?2, name), external_id = CASE WHEN ?3 = 1 THEN ?4 ELSE external_id END, updated_at = ?5 WHERE id = ?1",
        id,
        change.name.as_deref(),
        change.external_id.is_some(),
        change.external_id.clone().flatten(),
        now
    ));
    let row = b.push(select(id));
    Ok(b.run(db).await?.first(row).map(OrganizationRecord::from_row))
}

/// How many directories an organisation has; None when it does not exist.
pub async fn directory_count<D: Db>(db: &D, id: &str) -> Result<Option<i64>, DbError> {
    let mut b = Batch::new();
    let row = b.push(stmt!(
        "SELECT (SELECT count(*) FROM organizations WHERE id = ?1) AS found, (SELECT count(*) FROM directories WHERE organization_id = ?1) AS dirs",
        id
    ));
    let r = b.run(db).await?;
    let row = r.first(row);
    Ok(row.filter(|r| r.int("found") == Some(1)).map(|r| r.int("dirs").unwrap_or(0)))
}

/// Deletes an organisation and its domains. `DbError::Precondition` when
/// it has a directory by then (one created since it was counted).
pub async fn delete<D: Db>(db: &D, id: &str) -> Result<(), DbError> {
    let mut b = Batch::new();
    b.push(unless("directories", "NOT EXISTS (SELECT 1 FROM directories WHERE organization_id = ?1)", vec![id.into()]));
    b.push(stmt!("DELETE FROM domains WHERE organization_id = ?1", id));
    b.push(stmt!("DELETE FROM organizations WHERE id = ?1", id));
    b.run(db).await?;
    Ok(())
}

/// Maps a hostname to an organisation and reads the mapping back.
/// `DbError::Precondition` when the organisation does not exist,
/// `DbError::Unique` when the hostname is already mapped.
pub async fn create_domain<D: Db>(db: &D, hostname: &str, organization_id: &str, now: &str) -> Result<Option<DomainRecord>, DbError> {
    let mut b = Batch::new();
    b.push(guard_exists(organization_id));
    b.push(stmt!("INSERT INTO domains (hostname, organization_id, created_at) VALUES (?1, ?2, ?3)", hostname, organization_id, now));
    let row = b.push(stmt!(format!("SELECT {DOMAIN_COLUMNS} FROM domains WHERE hostname = ?1"), hostname));
    Ok(b.run(db).await?.first(row).map(DomainRecord::from_row))
}

/// One page of domains in hostname order, of one organisation or all.
pub async fn list_domains<D: Db>(db: &D, page: &Keyset, organization_id: Option<&str>) -> Result<Vec<DomainRecord>, DbError> {
    let (cond, params) = match organization_id {
        Some(o) => ("organization_id = ?", vec![o.into()]),
        None => ("1 = 1", Vec::new()),
    };
    let mut b = Batch::new();
    let rows = b.push(page.stmt(DOMAIN_COLUMNS, "domains", cond, params, "hostname"));
    Ok(b.run(db).await?.rows(rows).iter().map(DomainRecord::from_row).collect())
}

/// Removes a hostname mapping; false when there was none.
pub async fn delete_domain<D: Db>(db: &D, hostname: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let n = b.push(stmt!("SELECT count(*) AS n FROM domains WHERE hostname = ?1", hostname));
    b.push(stmt!("DELETE FROM domains WHERE hostname = ?1", hostname));
    Ok(b.run(db).await?.first(n).and_then(|r| r.int("n")) == Some(1))
}
