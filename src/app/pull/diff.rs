//! What the pushes missed: the stored directory against the IdP's listing.
//! Only removals are decided (a pull never creates or changes attributes):
//! a group the IdP no longer has, a membership it no longer has, a user it
//! no longer has or has disabled (`active: false`). Rows changed after the run started are left alone: the
//! IdP may have pushed them after its listing was read.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A user in the IdP's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpUser {
    pub id: String,
    pub user_name: String,
    /// False when the IdP lists the user as disabled.
    pub active: bool,
}

/// A group in the IdP's listing, with its members' IdP user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpGroup {
    pub id: String,
    pub display_name: String,
    /// None when the IdP did not say (no `members` array, as some IdPs
    /// answer lists): the group's memberships are then left alone.
    pub members: Option<Vec<String>>,
}

pub use crate::storage::pull::{Stored, StoredMember};

/// One removal, in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The group is gone at the IdP: delete it (its members are told first).
    DeleteGroup { group: Stored },
    /// These members of a group the IdP still has are no longer in it;
    /// `idp_group` is its id at the IdP (to confirm against).
    RemoveMembers { group_id: String, idp_group: String, users: Vec<Stored> },
    /// The user is gone at the IdP: deactivate.
    Deactivate { user: Stored },
}

/// The IdP's listing, indexed for matching.
pub struct Listing {
    /// Ids and lower-case userNames of the users the IdP lists as active.
    user_ids: HashSet<String>,
    user_names: HashSet<String>,
    /// IdP user id by lower-case userName.
    id_by_name: HashMap<String, String>,
    group_ids: HashMap<String, usize>,
    group_names: HashMap<String, usize>,
    groups: Vec<IdpGroup>,
}

impl Listing {
    pub fn new(users: &[IdpUser], groups: Vec<IdpGroup>) -> Self {
        Listing {
            user_ids: users.iter().filter(|u| u.active).map(|u| u.id.clone()).collect(),
            user_names: users.iter().filter(|u| u.active).map(|u| u.user_name.to_lowercase()).collect(),
            id_by_name: users.iter().map(|u| (u.user_name.to_lowercase(), u.id.clone())).collect(),
            group_ids: groups.iter().enumerate().map(|(i, g)| (g.id.clone(), i)).collect(),
            group_names: groups.iter().enumerate().map(|(i, g)| (g.display_name.to_lowercase(), i)).collect(),
            groups,
        }
    }

    /// How many groups the IdP listed.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Whether the IdP lists this stored user as active (by userName,
    /// case-insensitive, or by externalId = the IdP's id).
    pub fn has_user(&self, u: &Stored) -> bool {
        self.user_names.contains(&u.name.to_lowercase()) || u.external_id.as_ref().is_some_and(|e| self.user_ids.contains(e))
    }

    /// The IdP groups this stored group matches (by displayName, case-insensitive, or by externalId = the IdP's id).
    fn groups_of(&self, g: &Stored) -> Vec<&IdpGroup> {
        let by_id = g.external_id.as_ref().and_then(|e| self.group_ids.get(e));
        let by_name = self.group_names.get(&g.name.to_lowercase());
        let mut idx: Vec<usize> = by_id.into_iter().chain(by_name).copied().collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().filter_map(|i| self.groups.get(i)).collect()
    }

    /// The IdP ids a stored user may have: its externalId and the id of the
    /// IdP user with its userName.
    fn idp_ids_of<'a>(&'a self, u: &'a Stored) -> impl Iterator<Item = &'a String> + 'a {
        u.external_id.iter().chain(self.id_by_name.get(&u.name.to_lowercase()))
    }
}

/// Whether a stored group's member is still a member of any of the IdP
/// groups (or may be: a group whose members the IdP did not say keeps them).
pub fn still_member(idp_groups: &[&IdpGroup], listing: &Listing, user: &Stored) -> bool {
    let ids: BTreeSet<&String> = listing.idp_ids_of(user).collect();
    idp_groups.iter().any(|g| g.members.as_ref().is_none_or(|members| members.iter().any(|m| ids.contains(m))))
}

/// The removals, in order: each group's (a deletion, or its members'
/// removals), then the users' deactivations. Rows changed at or after
/// `started` are left alone.
pub fn diff(listing: &Listing, groups: &[Stored], members: &[StoredMember], users: &[Stored], started: &str) -> Vec<Change> {
    let users_by_id: BTreeMap<&str, &Stored> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut members_of: BTreeMap<&str, Vec<&StoredMember>> = BTreeMap::new();
    for m in members {
        members_of.entry(m.group_id.as_str()).or_default().push(m);
    }
    let mut out = Vec::new();
    for g in groups.iter().filter(|g| g.changed_at.as_str() < started) {
        let idp = listing.groups_of(g);
        let Some(first) = idp.first() else {
            out.push(Change::DeleteGroup { group: g.clone() });
            continue;
        };
        let gone: Vec<Stored> = members_of
            .get(g.id.as_str())
            .into_iter()
            .flatten()
            .filter(|m| m.created_at.as_str() < started)
            .filter_map(|m| users_by_id.get(m.user_id.as_str()))
            .filter(|u| u.changed_at.as_str() < started && !still_member(&idp, listing, u))
            .map(|u| (*u).clone())
            .collect();
        if !gone.is_empty() {
            out.push(Change::RemoveMembers { group_id: g.id.clone(), idp_group: first.id.clone(), users: gone });
        }
    }
    for u in users.iter().filter(|u| u.active && u.changed_at.as_str() < started && !listing.has_user(u)) {
        out.push(Change::Deactivate { user: u.clone() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-11-30T10:00:00.000Z";
    const START: &str = "2026-11-30T12:00:00.000Z";
    const LATER: &str = "2026-11-30T12:00:01.000Z";

    fn user(id: &str, name: &str, ext: Option<&str>) -> Stored {
        Stored { id: id.into(), name: name.into(), external_id: ext.map(Into::into), active: true, changed_at: T0.into() }
    }
    fn idp_user(id: &str, name: &str) -> IdpUser {
        IdpUser { id: id.into(), user_name: name.into(), active: true }
    }
    fn idp_group(id: &str, name: &str, members: &[&str]) -> IdpGroup {
        IdpGroup { id: id.into(), display_name: name.into(), members: Some(members.iter().map(|m| m.to_string()).collect()) }
    }
    fn member(g: &str, u: &str) -> StoredMember {
        StoredMember { group_id: g.into(), user_id: u.into(), created_at: T0.into() }
    }

    fn world() -> (Vec<Stored>, Vec<Stored>, Vec<StoredMember>) {
        let users = vec![user("user_a", "Ann@x.test", Some("idp-a")), user("user_b", "bob@x.test", None), user("user_c", "cy@x.test", Some("idp-c"))];
        let groups = vec![user("group_1", "Admins", Some("role-1")), user("group_2", "Sales", None)];
        let members = vec![member("group_1", "user_a"), member("group_1", "user_b"), member("group_2", "user_c")];
        (users, groups, members)
    }

    #[test]
    fn in_sync_is_nothing() {
        let (users, groups, members) = world();
        let l = Listing::new(
            &[idp_user("idp-a", "ann@x.test"), idp_user("idp-b", "BOB@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![idp_group("role-1", "Admins", &["idp-a", "idp-b"]), idp_group("role-2", "sales", &["idp-c"])],
        );
        assert_eq!(diff(&l, &groups, &members, &users, START), vec![]);
    }

    #[test]
    fn a_role_gone_is_a_group_deletion_and_a_membership_gone_a_removal() {
        let (users, groups, members) = world();
        let l = Listing::new(
            &[idp_user("idp-a", "ann@x.test"), idp_user("idp-b", "bob@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![idp_group("role-1-renamed-but-same-id", "Other", &[]), idp_group("role-1", "Admins (renamed)", &["idp-b"])],
        );
        let d = diff(&l, &groups, &members, &users, START);
        assert_eq!(
            d,
            vec![
                Change::RemoveMembers { group_id: "group_1".into(), idp_group: "role-1".into(), users: vec![users[0].clone()] },
                Change::DeleteGroup { group: groups[1].clone() },
            ]
        );
    }

    #[test]
    fn a_user_gone_is_deactivated_and_leaves_its_groups_first() {
        let (users, groups, members) = world();
        let l = Listing::new(
            &[idp_user("idp-b", "bob@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![idp_group("role-1", "Admins", &["idp-a", "idp-b"]), idp_group("role-2", "Sales", &["idp-c"])],
        );
        // idp-a is still named as a member by id, so the membership stays; the user goes inactive.
        assert_eq!(diff(&l, &groups, &members, &users, START), vec![Change::Deactivate { user: users[0].clone() }]);
        let l = Listing::new(
            &[idp_user("idp-b", "bob@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![idp_group("role-1", "Admins", &["idp-b"]), idp_group("role-2", "Sales", &["idp-c"])],
        );
        assert_eq!(
            diff(&l, &groups, &members, &users, START),
            vec![
                Change::RemoveMembers { group_id: "group_1".into(), idp_group: "role-1".into(), users: vec![users[0].clone()] },
                Change::Deactivate { user: users[0].clone() },
            ]
        );
    }

    #[test]
    fn rows_changed_after_the_run_started_and_inactive_users_are_left_alone() {
        let (mut users, mut groups, mut members) = world();
        users[0].changed_at = LATER.into();
        users[1].active = false;
        groups[1].changed_at = LATER.into();
        members.push(StoredMember { created_at: LATER.into(), ..member("group_1", "user_c") });
        let l = Listing::new(&[idp_user("idp-c", "cy@x.test")], vec![idp_group("role-1", "Admins", &[])]);
        // user_a changed later (kept, and its membership too); user_b inactive (not deactivated again, but its membership goes);
        // Sales changed later; user_c's membership in Admins was made later.
        assert_eq!(
            diff(&l, &groups, &members, &users, START),
            vec![Change::RemoveMembers { group_id: "group_1".into(), idp_group: "role-1".into(), users: vec![users[1].clone()] }]
        );
    }

    #[test]
    fn a_user_disabled_at_the_idp_is_deactivated_but_stays_a_member() {
        let (users, groups, members) = world();
        let disabled = IdpUser { active: false, ..idp_user("idp-a", "ann@x.test") };
        let l = Listing::new(
            &[disabled, idp_user("idp-b", "bob@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![idp_group("role-1", "Admins", &["idp-a", "idp-b"]), idp_group("role-2", "Sales", &["idp-c"])],
        );
        assert_eq!(diff(&l, &groups, &members, &users, START), vec![Change::Deactivate { user: users[0].clone() }]);
    }

    #[test]
    fn a_group_listed_without_members_keeps_its_memberships() {
        let (users, groups, members) = world();
        let unsaid = IdpGroup { members: None, ..idp_group("role-1", "Admins", &[]) };
        let l = Listing::new(
            &[idp_user("idp-a", "ann@x.test"), idp_user("idp-b", "bob@x.test"), idp_user("idp-c", "cy@x.test")],
            vec![unsaid, idp_group("role-2", "Sales", &["idp-c"])],
        );
        assert_eq!(diff(&l, &groups, &members, &users, START), vec![]);
    }
}
