//! Events: which ones a change causes (a pure function of before and after),
//! how they are written in the same batch as the change, and their envelope.

pub mod derive;
pub mod outbox;

pub use derive::{derive, Slice};
pub use outbox::{envelope, EventDraft};

/// Event names (docs/PRODUCT.md § Events).
pub mod kind {
    pub const ACTIVATED: &str = "dsync.activated";
    pub const DELETED: &str = "dsync.deleted";
    pub const USER_CREATED: &str = "dsync.user.created";
    pub const USER_UPDATED: &str = "dsync.user.updated";
    pub const USER_DELETED: &str = "dsync.user.deleted";
    pub const GROUP_CREATED: &str = "dsync.group.created";
    pub const GROUP_UPDATED: &str = "dsync.group.updated";
    pub const GROUP_DELETED: &str = "dsync.group.deleted";
    pub const USER_ADDED: &str = "dsync.group.user_added";
    pub const USER_REMOVED: &str = "dsync.group.user_removed";

    /// Every event name, for validating webhook subscriptions and filters.
    pub const ALL: &[&str] =
        &[ACTIVATED, DELETED, USER_CREATED, USER_UPDATED, USER_DELETED, GROUP_CREATED, GROUP_UPDATED, GROUP_DELETED, USER_ADDED, USER_REMOVED];
}
