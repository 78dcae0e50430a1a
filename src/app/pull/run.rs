//! A pull run as stored (`directory_pulls.run`, `last_run`) and the pull
//! settings as the API shows them.

use crate::storage::pull::PullRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Why a run failed, in plain words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

impl RunError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        RunError { code: code.to_string(), message: message.into() }
    }
}

/// Removals a run applied, by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub users_deactivated: u64,
    pub memberships_removed: u64,
    pub groups_deleted: u64,
}

/// A run, as stored in `directory_pulls.run` and `last_run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    /// `api` or `schedule`.
    pub trigger: String,
    /// `queued`, `running`, `succeeded`, `failed`.
    pub state: String,
    /// `users`, `groups`, `apply` while running.
    pub phase: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub pages_read: u64,
    pub users_read: u64,
    pub groups_read: u64,
    pub changes: Changes,
    pub error: Option<RunError>,
    /// The next startIndex of the list being read.
    #[serde(default)]
    pub cursor: u64,
    /// Whether pages of this run are staged in `pull_pages`.
    #[serde(default)]
    pub staged: bool,
    /// Bytes of the listing held so far (bounded by [`MAX_LISTING_BYTES`]).
    #[serde(default)]
    pub listing_bytes: u64,
}

impl Run {
    pub fn queued(id: String, trigger: &str, now: &str) -> Self {
        Run {
            id,
            trigger: trigger.to_string(),
            state: "queued".into(),
            phase: None,
            started_at: now.to_string(),
            ended_at: None,
            pages_read: 0,
            users_read: 0,
            groups_read: 0,
            changes: Changes::default(),
            error: None,
            cursor: 1,
            staged: false,
            listing_bytes: 0,
        }
    }

    pub(super) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// As the API shows it (without the cursor).
    pub fn view(v: &Value) -> Value {
        let Ok(r) = serde_json::from_value::<Run>(v.clone()) else { return Value::Null };
        json!({
            "id": r.id, "trigger": r.trigger, "state": r.state, "phase": r.phase,
            "started_at": r.started_at, "ended_at": r.ended_at,
            "pages_read": r.pages_read, "users_read": r.users_read, "groups_read": r.groups_read,
            "changes": r.changes, "error": r.error,
        })
    }
}

/// The pull settings as the API shows them (never the secret).
pub fn view(p: &PullRecord) -> Value {
    json!({
        "object": "directory_pull",
        "directory_id": p.directory_id,
        "scim_url": p.scim_url,
        "token_url": p.token_url,
        "client_id": p.client_id,
        "scope": p.scope,
        "token_auth": p.token_auth,
        "interval_minutes": p.interval_minutes,
        "next_run_at": p.next_run_at,
        "current_run": p.run.as_ref().map(Run::view),
        "last_run": p.last_run.as_ref().map(Run::view),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}
