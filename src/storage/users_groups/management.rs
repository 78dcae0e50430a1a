//! The management API's reads: users and groups as the application sees
//! them, with their organisation (from the data-side `directories` row, on
//! the same database) and a user's groups.

use super::{GROUP_COLUMNS, USER_COLUMNS};
use crate::directory::{GroupRecord, UserRecord};
use crate::storage::page::{contains, Keyset};
use crate::storage::{Batch, Db, DbError, Row, RowExt, SqlValue, Stmt};
use std::collections::BTreeMap;

/// A user with its organisation and groups.
#[derive(Debug, Clone)]
pub struct UserInOrg {
    pub user: UserRecord,
    pub organization_id: String,
    /// Its groups, whole (WorkOS's `directory_user.groups[]` are
    /// `directory_group` objects).
    pub groups: Vec<GroupRecord>,
}

/// A group with its organisation.
#[derive(Debug, Clone)]
pub struct GroupInOrg {
    pub group: GroupRecord,
    pub organization_id: String,
}

/// Whose users a list is of.
#[derive(Debug, Clone, Copy)]
pub enum UsersOf<'a> {
    /// A directory's users, narrowed to those with this `idp_id`
    /// (`externalId`) and to those with this email (any of their emails,
    /// any case) where given.
    Directory {
        id: &'a str,
        idp_id: Option<&'a str>,
        email: Option<&'a str>,
    },
    Group(&'a str),
}

/// Whose groups a list is of.
#[derive(Debug, Clone, Copy)]
pub enum GroupsOf<'a> {
    Directory(&'a str),
    User(&'a str),
}

/// The groups of the users `users_sql` selects (by id), with the member's
/// id as `member_id`.
fn groups_of(users_sql: &str, params: Vec<SqlValue>) -> Stmt {
    Stmt::new(
        format!("SELECT m2.user_id AS member_id, {GROUP_COLUMNS} FROM memberships m2 JOIN groups g ON g.id = m2.group_id WHERE m2.user_id IN ({users_sql}) ORDER BY g.id"),
        params,
    )
}

/// [`groups_of`] rows → each user's groups.
fn group_map(rows: &[Row]) -> BTreeMap<String, Vec<GroupRecord>> {
    let mut m: BTreeMap<String, Vec<GroupRecord>> = BTreeMap::new();
    for r in rows {
        if let Some(g) = GroupRecord::from_row(r) {
            m.entry(r.string("member_id")).or_default().push(g);
        }
    }
    m
}

fn user_in_org(row: &Row, groups: &BTreeMap<String, Vec<GroupRecord>>) -> Option<UserInOrg> {
    let user = UserRecord::from_row(row)?;
    let groups = groups.get(&user.id).cloned().unwrap_or_default();
    Some(UserInOrg { user, organization_id: row.string("organization_id"), groups })
}

fn group_in_org(row: &Row) -> Option<GroupInOrg> {
    GroupRecord::from_row(row).map(|group| GroupInOrg { group, organization_id: row.string("organization_id") })
}

/// A page of users (in the keyset's order, one more than its limit when
/// there is more), with their groups, in one read.
pub async fn list_users<D: Db>(db: &D, page: &Keyset, of: UsersOf<'_>) -> Result<Vec<UserInOrg>, DbError> {
    let select = format!("{USER_COLUMNS}, d.organization_id");
    let (from, cond, params) = match of {
        UsersOf::Group(g) => (
            // Through `groups`: the memberships of a large group being deleted
            // (migrations/0004) stay until told, but the group is gone.
            "memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id JOIN directories d ON d.id = u.directory_id",
            "m.group_id = ?".to_string(),
            vec![SqlValue::from(g)],
        ),
        UsersOf::Directory { id, idp_id, email } => {
            let mut cond = "u.directory_id = ?".to_string();
            let mut params = vec![SqlValue::from(id)];
            if let Some(x) = idp_id {
                cond.push_str(" AND u.external_id = ?");
                params.push(x.into());
            }
            if let Some(e) = email {
                cond.push_str(" AND u.id IN (SELECT e.user_id FROM user_emails e WHERE e.directory_id = ? AND e.value = ? COLLATE NOCASE)");
                params.extend([SqlValue::from(id), e.into()]);
            }
            ("users u JOIN directories d ON d.id = u.directory_id", cond, params)
        }
    };
    let mut b = Batch::new();
    let users = b.push(page.stmt(&select, from, &cond, params.clone(), "u.id"));
    // The same page again, as ids, selects the groups of exactly these users.
    let ids = page.stmt("u.id", from, &cond, params, "u.id");
    let groups = b.push(groups_of(&ids.sql, ids.params));
    let r = b.run(db).await?;
    let gm = group_map(r.rows(groups));
    Ok(r.rows(users).iter().filter_map(|row| user_in_org(row, &gm)).collect())
}

/// The user `id`, in any directory of `db`, with its groups.
pub async fn get_user<D: Db>(db: &D, id: &str) -> Result<Option<UserInOrg>, DbError> {
    let mut b = Batch::new();
    let user = b.push(Stmt::new(
        format!("SELECT {USER_COLUMNS}, d.organization_id FROM users u JOIN directories d ON d.id = u.directory_id WHERE u.id = ?1"),
        vec![id.into()],
    ));
    let groups = b.push(groups_of("?", vec![id.into()]));
    let r = b.run(db).await?;
    Ok(r.first(user).and_then(|row| user_in_org(row, &group_map(r.rows(groups)))))
}

/// A page of groups (in the keyset's order, one more than its limit when
/// there is more).
pub async fn list_groups<D: Db>(db: &D, page: &Keyset, of: GroupsOf<'_>) -> Result<Vec<GroupInOrg>, DbError> {
    let select = format!("{GROUP_COLUMNS}, d.organization_id");
    let (from, cond, params) = match of {
        GroupsOf::User(u) => {
            ("memberships m JOIN groups g ON g.id = m.group_id JOIN directories d ON d.id = g.directory_id", "m.user_id = ?", vec![SqlValue::from(u)])
        }
        GroupsOf::Directory(dir) => ("groups g JOIN directories d ON d.id = g.directory_id", "g.directory_id = ?", vec![SqlValue::from(dir)]),
    };
    let mut b = Batch::new();
    let groups = b.push(page.stmt(&select, from, cond, params, "g.id"));
    let r = b.run(db).await?;
    Ok(r.rows(groups).iter().filter_map(group_in_org).collect())
}

/// The group `id`, in any directory of `db`.
pub async fn get_group<D: Db>(db: &D, id: &str) -> Result<Option<GroupInOrg>, DbError> {
    let mut b = Batch::new();
    let group = b.push(Stmt::new(
        format!("SELECT {GROUP_COLUMNS}, d.organization_id FROM groups g JOIN directories d ON d.id = g.directory_id WHERE g.id = ?1"),
        vec![id.into()],
    ));
    let r = b.run(db).await?;
    Ok(r.first(group).and_then(group_in_org))
}

/// Rows of a directory whose name columns contain `search` (as
/// [`contains`]: any ASCII case, `%` and `_` literal, no length limit;
/// every row when empty), by `order`, at most `limit` (the portal's search
/// box). `select` ends in a condition on the directory id (`?`). With a
/// search this scans the directory's users or groups until `limit` match:
/// an admin's occasional look, not an IdP's path.
fn search_stmt(select: &str, names: &[&str], order: &str, directory_id: &str, search: &str, limit: i64) -> Stmt {
    let mut params = vec![SqlValue::from(directory_id)];
    let mut cond = String::new();
    if !search.is_empty() {
        let matches: Vec<String> = names
            .iter()
            .map(|c| {
                let (sql, p) = contains(c, search);
                params.push(p);
                sql
            })
            .collect();
        cond = format!(" AND ({})", matches.join(" OR "));
    }
    params.push(limit.into());
    Stmt::new(format!("{select}{cond} ORDER BY {order} COLLATE NOCASE LIMIT ?"), params)
}

/// A directory's users whose userName or displayName contains `search`.
pub async fn search_users<D: Db>(db: &D, directory_id: &str, search: &str, limit: i64) -> Result<Vec<UserRecord>, DbError> {
    let select = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.directory_id = ?");
    let mut b = Batch::new();
    let rows = b.push(search_stmt(&select, &["u.user_name", "u.display_name"], "u.user_name", directory_id, search, limit));
    Ok(b.run(db).await?.rows(rows).iter().filter_map(UserRecord::from_row).collect())
}

/// A directory's groups whose displayName contains `search`.
pub async fn search_groups<D: Db>(db: &D, directory_id: &str, search: &str, limit: i64) -> Result<Vec<GroupRecord>, DbError> {
    let select = format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.directory_id = ?");
    let mut b = Batch::new();
    let rows = b.push(search_stmt(&select, &["g.display_name"], "g.display_name", directory_id, search, limit));
    Ok(b.run(db).await?.rows(rows).iter().filter_map(GroupRecord::from_row).collect())
}
