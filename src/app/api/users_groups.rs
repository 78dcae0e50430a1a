//! The application's read side: `directory_user` and `directory_group`.
//!
//! Users and groups live in the data database of their directory. A list
//! by `directory_id` asks that database. A read with no directory named
//! (a user or group by id, the users of a group, the groups of a user)
//! asks each data database in turn and answers from the first that has
//! rows: an id belongs to one directory, so at most one database can; with
//! one data database (every deployment today) that is the one call it was.

use super::page::Page;
use super::{ok, ApiError, ApiResult};
use crate::app::{HttpRequest, Services};
use crate::directory::views::{group_view, user_view};
use crate::storage::users_groups::management::{self as m, GroupInOrg, GroupsOf, UserInOrg, UsersOf};
use crate::storage::{Db, DbError};
use serde_json::Value;
use std::future::Future;

/// Asks each data database in turn; the first answer that `found`
/// something is the answer (else the last, empty one).
async fn in_any<'s, D: Db, T: Default, Fut: Future<Output = Result<T, DbError>>>(
    svc: &'s Services<'_, D>,
    found: impl Fn(&T) -> bool,
    ask: impl Fn(&'s D) -> Fut,
) -> Result<T, DbError> {
    let mut answer = T::default();
    for db in svc.data_all() {
        answer = ask(db).await?;
        if found(&answer) {
            break;
        }
    }
    Ok(answer)
}

fn user(u: &UserInOrg) -> Value {
    user_view(&u.user, &u.organization_id, Some(&u.groups))
}

fn group(g: &GroupInOrg) -> Value {
    group_view(&g.group, &g.organization_id)
}

fn id_of(v: &Value) -> Option<String> {
    v["id"].as_str().map(str::to_string)
}

/// `GET /v1/directory_users?directory_id=…&group_id=…` (one of them required).
pub async fn list_users<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let found = match (req.param("directory_id"), req.param("group_id")) {
        (_, Some(g)) => in_any(svc, |v: &Vec<_>| !v.is_empty(), |db| m::list_users(db, &page, UsersOf::Group(g))).await?,
        (Some(dir), None) => m::list_users(svc.data(dir), &page, UsersOf::Directory(dir)).await?,
        (None, None) => return Err(ApiError::invalid("directory_id or group_id is required")),
    };
    ok(200, &page.answer(found.iter().map(user).collect(), id_of))
}

pub async fn get_user<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    match in_any(svc, Option::is_some, |db| m::get_user(db, id)).await? {
        Some(u) => ok(200, &user(&u)),
        None => Err(ApiError::not_found("User not found")),
    }
}

/// `GET /v1/directory_groups?directory_id=…&user_id=…` (one of them required).
pub async fn list_groups<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let found = match (req.param("directory_id"), req.param("user_id")) {
        (_, Some(u)) => in_any(svc, |v: &Vec<_>| !v.is_empty(), |db| m::list_groups(db, &page, GroupsOf::User(u))).await?,
        (Some(dir), None) => m::list_groups(svc.data(dir), &page, GroupsOf::Directory(dir)).await?,
        (None, None) => return Err(ApiError::invalid("directory_id or user_id is required")),
    };
    ok(200, &page.answer(found.iter().map(group).collect(), id_of))
}

pub async fn get_group<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    match in_any(svc, Option::is_some, |db| m::get_group(db, id)).await? {
        Some(g) => ok(200, &group(&g)),
        None => Err(ApiError::not_found("Group not found")),
    }
}
