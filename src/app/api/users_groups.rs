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

/// `directory_user` with its `groups[]` as whole `directory_group`s.
fn user(u: &UserInOrg) -> Value {
    let mut v = user_view(&u.user, &u.organization_id, None);
    if let Some(o) = v.as_object_mut() {
        o.insert("groups".into(), Value::Array(u.groups.iter().map(|g| group_view(g, &u.organization_id)).collect()));
    }
    v
}

fn group(g: &GroupInOrg) -> Value {
    group_view(&g.group, &g.organization_id)
}

fn id_of(v: &Value) -> Option<String> {
    v["id"].as_str().map(str::to_string)
}

/// A query parameter under its WorkOS name or its `/v1` one
/// (`directory_id`, `group_id`, `user_id`).
fn param<'r>(req: &'r HttpRequest, workos: &str, v1: &str) -> Option<&'r str> {
    req.param(workos).or_else(|| req.param(v1)).map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /directory_users?directory=…&group=…` (one of them required;
/// `idp_id` and `email` narrow a directory's users).
pub async fn list_users<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let (idp_id, email) = (param(req, "idp_id", "idp_id"), param(req, "email", "email"));
    let found = match (param(req, "directory", "directory_id"), param(req, "group", "group_id")) {
        (_, Some(_)) if idp_id.is_some() || email.is_some() => {
            return Err(ApiError::invalid("idp_id and email narrow a directory's users: give directory, not group"))
        }
        (_, Some(g)) => in_any(svc, |v: &Vec<_>| !v.is_empty(), |db| m::list_users(db, &page, UsersOf::Group(g))).await?,
        (Some(dir), None) => m::list_users(svc.data(dir), &page, UsersOf::Directory { id: dir, idp_id, email }).await?,
        (None, None) => return Err(ApiError::invalid("directory or group is required")),
    };
    ok(200, &page.answer(found.iter().map(user).collect(), id_of))
}

pub async fn get_user<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    match in_any(svc, Option::is_some, |db| m::get_user(db, id)).await? {
        Some(u) => ok(200, &user(&u)),
        None => Err(ApiError::not_found("User not found")),
    }
}

/// `GET /directory_groups?directory=…&user=…` (one of them required).
pub async fn list_groups<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let found = match (param(req, "directory", "directory_id"), param(req, "user", "user_id")) {
        (_, Some(u)) => in_any(svc, |v: &Vec<_>| !v.is_empty(), |db| m::list_groups(db, &page, GroupsOf::User(u))).await?,
        (Some(dir), None) => m::list_groups(svc.data(dir), &page, GroupsOf::Directory(dir)).await?,
        (None, None) => return Err(ApiError::invalid("directory or user is required")),
    };
    ok(200, &page.answer(found.iter().map(group).collect(), id_of))
}

pub async fn get_group<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    match in_any(svc, Option::is_some, |db| m::get_group(db, id)).await? {
        Some(g) => ok(200, &group(&g)),
        None => Err(ApiError::not_found("Group not found")),
    }
}
