//! Pull reconciliation (issue 13): what IdPs never push. Some IdPs send
//! nothing when access ends (CyberArk Identity when a role leaves the app);
//! a run reads the IdP's own SCIM API with OAuth2 client credentials and
//! applies only the removals the pushes missed, through the same SCIM use
//! cases as an IdP's request, so the same events follow with the same
//! sequence numbers.
//!
//! A run is worked on in bounded steps, one per Queue message
//! (`{"pull": directory_id}`): a step takes the run's lease (so two never
//! overlap), reads up to [`PAGES_PER_STEP`] pages, and either goes on in
//! the next step (the pages read so far are staged) or diffs and applies
//! up to [`CHANGES_PER_STEP`] removals. Each removal is confirmed at the
//! IdP first. A run that finds the directory in sync writes its status and
//! nothing else. A failure ends the run (`failed`, with the reason in
//! plain words); the next run starts over, and since nothing is applied
//! from an incomplete listing, nothing is lost or applied twice.

pub mod diff;
pub mod idp;
mod run;
mod staging;

use super::{HttpRequest, QueueMessage, Services};
use crate::storage::pull::{self as store, PullRecord, StagedPage};
use crate::storage::{Db, DbError};
use crate::support::time::Millis;
use diff::{Change, Listing, Stored};
use idp::{Idp, TokenAuth};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use run::{view, Changes, Run, RunError};

/// Pages of the IdP's lists one step reads at most.
pub const PAGES_PER_STEP: u64 = 40;
/// Removals one step applies at most (each is a SCIM request of a few D1 calls).
pub const CHANGES_PER_STEP: usize = 50;
/// Wall time after which a step stops reading and lets the next go on.
pub const STEP_SECONDS: i64 = 60;
/// How long a step's lease lasts: a step that dies is taken over after it.
pub const LEASE_SECONDS: i64 = 300;
/// Pages a run may read in all (both lists): past it the run fails as too large.
pub const MAX_PAGES: u64 = 10_000;
/// What a run may hold of the IdP's listing (ids, names, member ids), at
/// most: a Worker has 128 MB. Past it the run fails as too large.
pub const MAX_LISTING_BYTES: u64 = 32 * 1_048_576;
/// Minutes after a failed run before the cron tries again (at most the interval).
pub const RETRY_MINUTES: i64 = 15;
/// Members removed per SCIM PATCH.
const MEMBERS_PER_PATCH: usize = 100;

/// Outbound HTTP for a run (the shell's `fetch`, or a test's client).
#[allow(async_fn_in_trait)]
pub trait Fetch {
    fn now(&self) -> Millis;
    /// The response, or why there was none (unreachable, timed out, too large).
    async fn fetch(&self, req: OutRequest) -> Result<OutResponse, String>;
}

pub struct OutRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct OutResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The Queue message that asks for a step of a directory's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullMessage {
    pub pull: String,
}

/// What a step did, for the shell.
#[derive(Debug, Default)]
pub struct Stepped {
    /// Events written (to publish).
    pub publish: Vec<QueueMessage>,
    /// Group removals were left to be told in chunks.
    pub run_removals: bool,
    /// The run goes on: send another [`PullMessage`].
    pub more: bool,
    /// The run ended in this step: as recorded.
    pub finished: Option<Run>,
}

/// Queues a run unless one is in progress; the settings after (whichever
/// run is in progress), or None without settings.
pub async fn start<D: Db>(svc: &Services<'_, D>, directory_id: &str, trigger: &str) -> Result<Option<PullRecord>, DbError> {
    let run = Run::queued(svc.ids().make("pullrun"), trigger, &svc.now_text());
    store::queue_run(svc.control(), directory_id, &run.to_json(), None, &svc.now_text()).await
}

/// The cron's part: starts the due scheduled runs and names every
/// directory whose run needs a step (a new one, or one whose step stopped
/// or died); the shell sends each a [`PullMessage`].
pub async fn due<D: Db>(svc: &Services<'_, D>, limit: i64) -> Result<Vec<String>, DbError> {
    let (due, mut stalled) = store::due(svc.control(), &svc.now_text(), limit).await?;
    for id in due {
        // Whichever run is now in progress (this one, or one a trigger
        // queued meanwhile) needs a step; a step it already has ignores it.
        if start(svc, &id, "schedule").await?.is_some() {
            stalled.push(id);
        }
    }
    stalled.sort();
    stalled.dedup();
    Ok(stalled)
}

/// One step of a directory's run, if it has one and no other step holds it.
pub async fn step<D: Db, H: Fetch>(svc: &Services<'_, D>, http: &H, directory_id: &str) -> Result<Stepped, DbError> {
    let lease = svc.ids().make("lease");
    let until = svc.now.plus_seconds(LEASE_SECONDS).to_rfc3339();
    let Some(rec) = store::claim(svc.control(), directory_id, &lease, &until, &svc.now_text()).await? else {
        return Ok(Stepped::default());
    };
    let run = rec.run.as_ref().and_then(|v| serde_json::from_value::<Run>(v.clone()).ok());
    let mut job = Job { svc, rec, lease, out: Stepped::default() };
    // The claim has marked a queued run running, in the users phase.
    let Some(mut run) = run else {
        let broken = Run::queued(job.svc.ids().make("pullrun"), "schedule", &job.svc.now_text());
        job.end(broken, Some(RunError::new("internal_error", "The run's stored state was unreadable; the next run starts over"))).await?;
        return Ok(job.out);
    };
    match job.work(http, &mut run).await {
        Ok(()) => {}
        Err(Failure::Run(e)) => job.end(run, Some(e)).await?,
        Err(Failure::Db(DbError::Precondition)) => {} // the lease was lost: another step goes on
        Err(Failure::Db(e)) => {
            // Ended rather than left to be taken over after its lease: a
            // failure that repeats (a row D1 refuses) must not loop forever.
            let why = RunError::new("internal_error", "Rollcall could not read or save the run's state (a storage error); the next run starts over");
            job.end(run, Some(why)).await.map_err(|_| e)?;
        }
    }
    Ok(job.out)
}

enum Failure {
    Run(RunError),
    Db(DbError),
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::Db(e)
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Self {
        Failure::Run(e)
    }
}

struct Job<'s, 'a, D: Db> {
    svc: &'s Services<'a, D>,
    rec: PullRecord,
    lease: String,
    out: Stepped,
}

impl<D: Db> Job<'_, '_, D> {
    /// Ends the run (succeeded, or failed with `error`) and schedules the next.
    async fn end(&mut self, mut run: Run, error: Option<RunError>) -> Result<(), DbError> {
        run.state = if error.is_some() { "failed" } else { "succeeded" }.into();
        run.error = error;
        run.phase = None;
        run.ended_at = Some(self.svc.now_text());
        // A failed run is tried again sooner than the schedule's next one.
        let minutes = if run.error.is_some() { self.rec.interval_minutes.min(RETRY_MINUTES) } else { self.rec.interval_minutes };
        let next = self.svc.now.plus_seconds(minutes.saturating_mul(60)).to_rfc3339();
        match store::finish(self.svc.control(), &self.rec.directory_id, &self.lease, &run.to_json(), &next, &self.svc.now_text()).await {
            Ok(()) => {
                self.out.finished = Some(run);
                Ok(())
            }
            Err(DbError::Precondition) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lets the next step go on from here.
    async fn pause(&mut self, run: &mut Run, fresh: &[StagedPage]) -> Result<(), Failure> {
        run.staged |= !fresh.is_empty();
        store::save_progress(self.svc.control(), &self.rec.directory_id, &run.id, &self.lease, &run.to_json(), fresh).await?;
        self.out.more = true;
        Ok(())
    }

    async fn work<H: Fetch>(&mut self, http: &H, run: &mut Run) -> Result<(), Failure> {
        let secret = self
            .svc
            .cfg
            .secret_box()
            .and_then(|b| b.open(&self.rec.secret_sealed, &self.rec.directory_id))
            .and_then(|s| String::from_utf8(s).ok())
            .ok_or_else(|| {
                RunError::new("misconfigured", "The client secret cannot be opened: ENCRYPTION_KEY is missing or changed; set the pull settings again")
            })?;
        let rec = self.rec.clone();
        let auth = if rec.token_auth == "body" { TokenAuth::Body } else { TokenAuth::Basic };
        let mut idp = Idp::new(http, &rec.scim_url, &rec.token_url, &rec.client_id, &secret, rec.scope.as_deref(), auth);
        let began = http.now();
        let mut fresh: Vec<StagedPage> = Vec::new();
        let mut read = 0;
        let (mut users, mut groups) = (Vec::new(), Vec::new());
        loop {
            let kind = match run.phase.as_deref() {
                Some("users") => "users",
                Some("groups") => "groups",
                _ => break,
            };
            if read >= PAGES_PER_STEP || http.now().0 - began.0 > STEP_SECONDS * 1000 {
                return self.pause(run, &fresh).await;
            }
            if run.pages_read >= MAX_PAGES {
                return Err(RunError::new("too_large", format!("The IdP's lists took more than {MAX_PAGES} pages; nothing was changed")).into());
            }
            let start = run.cursor;
            let (n, total, items) = if kind == "users" {
                let page = idp.users(start).await?;
                run.users_read += page.items.len() as u64;
                let n = page.items.len() as u64;
                users.extend(page.items.iter().cloned());
                (n, page.total, staging::users_json(&page.items))
            } else {
                let page = idp.groups(start).await?;
                run.groups_read += page.items.len() as u64;
                let n = page.items.len() as u64;
                groups.extend(page.items.iter().cloned());
                (n, page.total, staging::groups_json(&page.items))
            };
            read += 1;
            run.pages_read += 1;
            let (rows, bytes) = staging::stage_rows(kind, start, items)?;
            run.listing_bytes += bytes;
            if run.listing_bytes > MAX_LISTING_BYTES {
                return Err(RunError::new(
                    "too_large",
                    format!("The IdP's listing is larger than a run can hold ({} MB); nothing was changed", MAX_LISTING_BYTES / 1_048_576),
                )
                .into());
            }
            fresh.extend(rows);
            let next = start.saturating_add(n);
            if n == 0 || total.is_some_and(|t| next > t) {
                run.phase = Some(if kind == "users" { "groups" } else { "apply" }.into());
                run.cursor = 1;
            } else {
                run.cursor = next;
            }
        }
        if run.staged {
            for (kind, items) in store::pages(self.svc.control(), &rec.directory_id, &run.id).await? {
                staging::read_back(&kind, &items, &mut users, &mut groups);
            }
        }
        let listing = Listing::new(&users, groups);
        let (stored_users, stored_groups, stored_members) = store::read_directory(self.svc.data(&rec.directory_id), &rec.directory_id).await?;
        if users.is_empty() && stored_users.iter().any(|u| u.active) {
            return Err(RunError::new(
                "idp_listed_nothing",
                "The IdP listed no users while the directory has some; nothing was changed (check the client's scope and the SCIM URL)",
            )
            .into());
        }
        if listing.group_count() == 0 && !stored_groups.is_empty() {
            return Err(RunError::new(
                "idp_listed_nothing",
                "The IdP listed no groups while the directory has some; nothing was changed (check the client's scope and the SCIM URL)",
            )
            .into());
        }
        let changes = diff::diff(&listing, &stored_groups, &stored_members, &stored_users, &run.started_at);
        let more = changes.len() > CHANGES_PER_STEP;
        for change in changes.into_iter().take(CHANGES_PER_STEP) {
            self.apply(&mut idp, &listing, run, change).await?;
        }
        if more {
            return self.pause(run, &fresh).await;
        }
        self.end(run.clone(), None).await?;
        Ok(())
    }

    /// Confirms a removal at the IdP, then applies it as a SCIM request.
    async fn apply<H: Fetch>(&mut self, idp: &mut Idp<'_, H>, listing: &Listing, run: &mut Run, change: Change) -> Result<(), Failure> {
        let dir = self.rec.directory_id.clone();
        match change {
            Change::DeleteGroup { group } => {
                if idp.has_group(&group.name, group.external_id.as_deref()).await? == Some(true) {
                    return Ok(());
                }
                if self.scim(&dir, "DELETE", &["Groups", &group.id], None).await? {
                    run.changes.groups_deleted += 1;
                }
            }
            Change::RemoveMembers { group_id, idp_group, users } => {
                let Some(now) = idp.group(&idp_group).await? else { return Ok(()) };
                let gone: Vec<&Stored> = users.iter().filter(|u| !diff::still_member(&[&now], listing, u)).collect();
                for chunk in gone.chunks(MEMBERS_PER_PATCH) {
                    let ops: Vec<Value> = chunk.iter().map(|u| json!({"op": "remove", "path": format!("members[value eq \"{}\"]", u.id)})).collect();
                    let before = self.out.publish.len();
                    if self.scim(&dir, "PATCH", &["Groups", &group_id], Some(json!({"schemas": [PATCH_OP], "Operations": ops}))).await? {
                        run.changes.memberships_removed += (self.out.publish.len() - before) as u64;
                    }
                }
            }
            Change::Deactivate { user } => {
                if idp.has_user(&user.name, user.external_id.as_deref()).await? == Some(true) {
                    return Ok(());
                }
                let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]});
                let before = self.out.publish.len();
                if self.scim(&dir, "PATCH", &["Users", &user.id], Some(body)).await? && self.out.publish.len() > before {
                    run.changes.users_deactivated += 1;
                }
            }
        }
        Ok(())
    }

    /// A SCIM request of the pull's own, through the same use cases as an
    /// IdP's. True when it was applied; false when the resource changed or
    /// went meanwhile (the next run looks again).
    async fn scim(&mut self, directory_id: &str, method: &str, rest: &[&str], body: Option<Value>) -> Result<bool, Failure> {
        let host = self.svc.cfg.default_hosts.first().map_or("localhost", String::as_str);
        let url = format!("https://{host}/scim/v2/{directory_id}/{}", rest.join("/"));
        let headers = vec![("content-type".to_string(), "application/scim+json".to_string())];
        let req = HttpRequest::new(method, &url, headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default());
        let out = super::scim::handle_as_pull(self.svc, &req, directory_id, rest).await;
        self.out.publish.extend(out.publish);
        self.out.run_removals |= out.run_removals;
        let status = out.response.as_ref().map_or(500, |r| r.status);
        match status {
            200..=299 => Ok(true),
            404 | 409 | 412 | 429 => Ok(false),
            s => Err(RunError::new(
                "apply_failed",
                format!("Rollcall could not apply a removal (HTTP {s} on {method} /{}); the next run tries again", rest.first().copied().unwrap_or("")),
            )
            .into()),
        }
    }
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
