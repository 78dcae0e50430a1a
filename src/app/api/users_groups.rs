//! The application's read side: `directory_user` and `directory_group`.

use super::page::Page;
use super::{ok, ApiError, ApiResult};
use crate::app::{HttpRequest, Services};
use crate::directory::records::{GROUP_COLUMNS, USER_COLUMNS};
use crate::directory::views::{group_view, user_view, GroupRef};
use crate::directory::{GroupRecord, UserRecord};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, Row, RowExt, SqlValue, Stmt};
use serde_json::Value;
use std::collections::BTreeMap;

fn user_with_groups(row: &Row, groups: &BTreeMap<String, Vec<GroupRef>>) -> Option<Value> {
    let u = UserRecord::from_row(row)?;
    let g = groups.get(&u.id).map(Vec::as_slice).unwrap_or(&[]);
    Some(user_view(&u, &row.string("organization_id"), Some(g)))
}

fn group_map(rows: &[Row]) -> BTreeMap<String, Vec<GroupRef>> {
    let mut m: BTreeMap<String, Vec<GroupRef>> = BTreeMap::new();
    for r in rows {
        m.entry(r.string("user_id")).or_default().push(GroupRef { id: r.string("id"), name: r.string("name") });
    }
    m
}

/// `GET /v1/directory_users?directory_id=…&group_id=…` (one of them required).
pub async fn list_users<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let select = format!("{USER_COLUMNS}, d.organization_id");
    let (from, cond, params) = match (req.param("directory_id"), req.param("group_id")) {
        (_, Some(g)) => (
            // Through `groups`: the memberships of a large group being deleted
            // (migrations/0004) stay until told, but the group is gone.
            "memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id JOIN directories d ON d.id = u.directory_id",
            "m.group_id = ?",
            vec![SqlValue::Text(g.to_string())],
        ),
        (Some(dir), None) => ("users u JOIN directories d ON d.id = u.directory_id", "u.directory_id = ?", vec![SqlValue::Text(dir.to_string())]),
        (None, None) => return Err(ApiError::invalid("directory_id or group_id is required")),
    };
    let page_stmt = page.stmt(&select, from, cond, params.clone(), "u.id");
    // The same page again, as ids, selects the groups of exactly these users.
    let ids = page.stmt("u.id", from, cond, params, "u.id");
    let groups = Stmt::new(
        format!(
            "SELECT m2.user_id, g.id, g.display_name AS name FROM memberships m2 JOIN groups g ON g.id = m2.group_id WHERE m2.user_id IN ({}) ORDER BY g.id",
            ids.sql
        ),
        ids.params,
    );
    let r = svc.db.batch(vec![page_stmt, groups]).await.map_err(ApiError::from)?;
    let gm = group_map(rows(&r, 1));
    let data = rows(&r, 0).iter().filter_map(|row| user_with_groups(row, &gm)).collect();
    ok(200, &page.answer(data, |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get_user<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![
            stmt!(format!("SELECT {USER_COLUMNS}, d.organization_id FROM users u JOIN directories d ON d.id = u.directory_id WHERE u.id = ?1"), id),
            stmt!(
                "SELECT m.user_id, g.id, g.display_name AS name FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.id",
                id
            ),
        ])
        .await
        .map_err(ApiError::from)?;
    let gm = group_map(rows(&r, 1));
    first(&r, 0).and_then(|row| user_with_groups(row, &gm)).map(|v| ok(200, &v)).unwrap_or_else(|| Err(ApiError::not_found("User not found")))
}

fn group(row: &Row) -> Option<Value> {
    GroupRecord::from_row(row).map(|g| group_view(&g, &row.string("organization_id")))
}

/// `GET /v1/directory_groups?directory_id=…&user_id=…` (one of them required).
pub async fn list_groups<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let select = format!("{GROUP_COLUMNS}, d.organization_id");
    let (from, cond, params) = match (req.param("directory_id"), req.param("user_id")) {
        (_, Some(u)) => (
            "memberships m JOIN groups g ON g.id = m.group_id JOIN directories d ON d.id = g.directory_id",
            "m.user_id = ?",
            vec![SqlValue::Text(u.to_string())],
        ),
        (Some(dir), None) => ("groups g JOIN directories d ON d.id = g.directory_id", "g.directory_id = ?", vec![SqlValue::Text(dir.to_string())]),
        (None, None) => return Err(ApiError::invalid("directory_id or user_id is required")),
    };
    let r = svc.db.batch(vec![page.stmt(&select, from, cond, params, "g.id")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().filter_map(group).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get_group<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![stmt!(format!("SELECT {GROUP_COLUMNS}, d.organization_id FROM groups g JOIN directories d ON d.id = g.directory_id WHERE g.id = ?1"), id)])
        .await
        .map_err(ApiError::from)?;
    first(&r, 0).and_then(group).map(|v| ok(200, &v)).unwrap_or_else(|| Err(ApiError::not_found("Group not found")))
}
