//! One event per real change, whichever request form caused it: the events
//! are derived by comparing the part of the directory a request touched,
//! before and after, never from the request itself.

use super::kind;
use crate::directory::views::previous_attributes;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The part of a directory a request read or wrote: users and groups as the
/// application sees them (views), and the memberships among them. `before`
/// and `after` must cover the same users, groups and membership pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slice {
    pub users: BTreeMap<String, Value>,
    pub groups: BTreeMap<String, Value>,
    /// (group id, user id)
    pub members: BTreeSet<(String, String)>,
}

/// The events that turn `before` into `after`, in the order the application
/// should see them: creations, updates, memberships added, memberships
/// removed (a deleted group's members, a deleted user's groups), deletions.
pub fn derive(before: &Slice, after: &Slice) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (id, view) in &after.users {
        if !before.users.contains_key(id) {
            out.push((kind::USER_CREATED, view.clone()));
        }
    }
    for (id, view) in &after.groups {
        if !before.groups.contains_key(id) {
            out.push((kind::GROUP_CREATED, view.clone()));
        }
    }
    for (id, new) in &after.users {
        if let Some(old) = before.users.get(id) {
            if let Some(e) = updated(kind::USER_UPDATED, old, new) {
                out.push(e);
            }
        }
    }
    for (id, new) in &after.groups {
        if let Some(old) = before.groups.get(id) {
            if let Some(e) = updated(kind::GROUP_UPDATED, old, new) {
                out.push(e);
            }
        }
    }
    for (g, u) in after.members.difference(&before.members) {
        if let Some(e) = membership(kind::USER_ADDED, after, before, g, u) {
            out.push(e);
        }
    }
    for (g, u) in before.members.difference(&after.members) {
        if let Some(e) = membership(kind::USER_REMOVED, after, before, g, u) {
            out.push(e);
        }
    }
    for (id, view) in &before.groups {
        if !after.groups.contains_key(id) {
            out.push((kind::GROUP_DELETED, view.clone()));
        }
    }
    for (id, view) in &before.users {
        if !after.users.contains_key(id) {
            out.push((kind::USER_DELETED, view.clone()));
        }
    }
    out
}

fn updated(name: &'static str, old: &Value, new: &Value) -> Option<(&'static str, Value)> {
    let prev = previous_attributes(old, new);
    if prev.is_empty() {
        return None;
    }
    let mut data = new.clone();
    if let Some(obj) = data.as_object_mut() {
        obj.insert("previous_attributes".into(), Value::Object(prev));
    }
    Some((name, data))
}

/// `{directory_id, user, group}`; the user is shown without its `groups`.
fn membership(name: &'static str, after: &Slice, before: &Slice, group_id: &str, user_id: &str) -> Option<(&'static str, Value)> {
    let mut user = after.users.get(user_id).or_else(|| before.users.get(user_id))?.clone();
    let group = after.groups.get(group_id).or_else(|| before.groups.get(group_id))?.clone();
    if let Some(obj) = user.as_object_mut() {
        obj.remove("groups");
    }
    let directory_id = group.get("directory_id").cloned().unwrap_or(Value::Null);
    Some((name, json!({ "directory_id": directory_id, "user": user, "group": group })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, state: &str) -> (String, Value) {
        (id.to_string(), json!({"object": "directory_user", "id": id, "directory_id": "d", "state": state, "updated_at": "t1", "groups": []}))
    }
    fn group(id: &str, name: &str) -> (String, Value) {
        (id.to_string(), json!({"object": "directory_group", "id": id, "directory_id": "d", "name": name}))
    }
    fn names(events: &[(&'static str, Value)]) -> Vec<&'static str> {
        events.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn nothing_changed_emits_nothing() {
        let s = Slice { users: [user("u1", "active")].into(), groups: [group("g1", "A")].into(), members: [("g1".into(), "u1".into())].into() };
        assert!(derive(&s, &s).is_empty());
    }

    #[test]
    fn only_bookkeeping_changed_emits_nothing() {
        let before = Slice { users: [user("u1", "active")].into(), ..Default::default() };
        let mut after = before.clone();
        after.users.get_mut("u1").unwrap()["updated_at"] = json!("t2");
        assert!(derive(&before, &after).is_empty());
    }

    #[test]
    fn deactivation_is_an_update_with_previous_state() {
        let before = Slice { users: [user("u1", "active")].into(), ..Default::default() };
        let after = Slice { users: [user("u1", "inactive")].into(), ..Default::default() };
        let ev = derive(&before, &after);
        assert_eq!(names(&ev), vec![kind::USER_UPDATED]);
        assert_eq!(ev[0].1["state"], "inactive");
        assert_eq!(ev[0].1["previous_attributes"]["state"], "active");
    }

    #[test]
    fn a_created_group_with_members_emits_created_then_user_added() {
        let before = Slice { users: [user("u1", "active")].into(), ..Default::default() };
        let after = Slice { users: [user("u1", "active")].into(), groups: [group("g1", "A")].into(), members: [("g1".into(), "u1".into())].into() };
        let ev = derive(&before, &after);
        assert_eq!(names(&ev), vec![kind::GROUP_CREATED, kind::USER_ADDED]);
        assert_eq!(ev[1].1["user"]["id"], "u1");
        assert!(ev[1].1["user"].get("groups").is_none());
        assert_eq!(ev[1].1["group"]["id"], "g1");
    }

    #[test]
    fn a_deleted_group_removes_each_member_before_it_goes() {
        let before = Slice {
            users: [user("u1", "active"), user("u2", "active")].into(),
            groups: [group("g1", "A")].into(),
            members: [("g1".into(), "u1".into()), ("g1".into(), "u2".into())].into(),
        };
        let after = Slice { users: before.users.clone(), ..Default::default() };
        assert_eq!(names(&derive(&before, &after)), vec![kind::USER_REMOVED, kind::USER_REMOVED, kind::GROUP_DELETED]);
    }

    #[test]
    fn a_deleted_user_leaves_its_groups_first() {
        let before = Slice {
            users: [user("u1", "active")].into(),
            groups: [group("g1", "A"), group("g2", "B")].into(),
            members: [("g1".into(), "u1".into()), ("g2".into(), "u1".into())].into(),
        };
        let after = Slice { groups: before.groups.clone(), ..Default::default() };
        assert_eq!(names(&derive(&before, &after)), vec![kind::USER_REMOVED, kind::USER_REMOVED, kind::USER_DELETED]);
    }

    #[test]
    fn rename_and_member_change_in_one_request() {
        let before = Slice {
            users: [user("u1", "active"), user("u2", "active")].into(),
            groups: [group("g1", "A")].into(),
            members: [("g1".into(), "u1".into())].into(),
        };
        let after = Slice { users: before.users.clone(), groups: [group("g1", "B")].into(), members: [("g1".into(), "u2".into())].into() };
        let ev = derive(&before, &after);
        assert_eq!(names(&ev), vec![kind::GROUP_UPDATED, kind::USER_ADDED, kind::USER_REMOVED]);
        assert_eq!(ev[0].1["previous_attributes"]["name"], "A");
        assert_eq!(ev[1].1["group"]["name"], "B");
    }
}
