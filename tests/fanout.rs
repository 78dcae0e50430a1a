//! Issue 9, large fan-outs, natively on SQLite with 50,000-member groups
//! and a 100,000-user directory (rows made with INSERT … SELECT from a
//! recursive CTE): exact events, a gapless sequence, chunks that fit D1's
//! limits, and work that survives an interruption between chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use rollcall::app::{fanout, maintenance};
use rollcall::storage::sqlite::{block_on, Sqlite};
use rollcall::storage::{Db, DbError, RowExt, SqlValue, Stmt, StmtResult};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeSet;
use support::{App, Dir};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BIG: i64 = 50_000;

fn sql(app: &App, s: &str, params: Vec<SqlValue>) -> Vec<StmtResult> {
    block_on(app.data_db().batch(vec![Stmt::new(s, params)])).unwrap()
}

fn int(app: &App, s: &str, params: Vec<SqlValue>) -> i64 {
    sql(app, s, params)[0].rows[0].int("n").unwrap()
}

/// `n` users `bulk{i}@x.io` (ids [`bulk`]), members of `group` when given.
fn seed(app: &App, dir: &Dir, n: i64, group: Option<&str>) {
    sql(
        app,
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2) \
         INSERT INTO users (id, directory_id, user_name, external_id, display_name, active, resource, version, created_at, updated_at) \
         SELECT printf('user_b%031x', i), ?1, printf('bulk%d@x.io', i), NULL, NULL, 1, \
                json_object('userName', printf('bulk%d@x.io', i), 'emails', json_array(json_object('value', printf('bulk%d@x.io', i), 'primary', json('true')))), 1, 't', 't' FROM k",
        vec![dir.id.as_str().into(), n.into()],
    );
    sql(
        app,
        "INSERT INTO user_emails (user_id, directory_id, value) SELECT id, directory_id, user_name FROM users WHERE directory_id = ?1 AND id LIKE 'user_b%'",
        vec![dir.id.as_str().into()],
    );
    sql(app, "UPDATE directories SET user_count = user_count + ?2 WHERE id = ?1", vec![dir.id.as_str().into(), n.into()]);
    if let Some(g) = group {
        sql(app, "INSERT INTO memberships (group_id, user_id, directory_id, created_at) SELECT ?1, id, ?2, 't' FROM users WHERE directory_id = ?2 AND id LIKE 'user_b%'", vec![g.into(), dir.id.as_str().into()]);
    }
}

fn bulk(i: i64) -> String {
    format!("user_b{i:031x}")
}

fn group(app: &App, dir: &Dir, name: &str) -> String {
    let g = app.scim(dir, "POST", "/Groups", Some(json!({"displayName": name})));
    assert_eq!(g.status, 201, "{:?}", g.body);
    g.body["id"].as_str().unwrap().to_string()
}

/// Events of the directory after `from` (a sequence number): (sequence, event, user id, group id).
fn events_after(app: &App, dir: &Dir, from: i64) -> Vec<(i64, String, String, String)> {
    sql(
        app,
        "SELECT sequence, event, coalesce(json_extract(data, '$.user.id'), '') AS u, coalesce(json_extract(data, '$.group.id'), json_extract(data, '$.id'), '') AS g \
         FROM events WHERE directory_id = ?1 AND sequence > ?2 ORDER BY sequence",
        vec![dir.id.as_str().into(), from.into()],
    )[0]
    .rows
    .iter()
    .map(|r| (r.int("sequence").unwrap(), r.string("event"), r.string("u"), r.string("g")))
    .collect()
}

fn last_sequence(app: &App, dir: &Dir) -> i64 {
    int(app, "SELECT event_seq AS n FROM directories WHERE id = ?1", vec![dir.id.as_str().into()])
}

/// The whole log is 1, 2, 3, … and matches the directory's counter.
fn assert_gapless(app: &App, dir: &Dir) {
    let seqs: Vec<i64> = events_after(app, dir, 0).iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(last_sequence(app, dir), seqs.len() as i64);
}

fn removed_users(events: &[(i64, String, String, String)], gid: &str) -> Vec<String> {
    events.iter().filter(|e| e.1 == "dsync.group.user_removed" && e.3 == gid).map(|e| e.2.clone()).collect()
}

/// Records each batch's statement count and its largest bound parameter.
struct Sizes<'a> {
    inner: &'a Sqlite,
    batches: &'a RefCell<Vec<(usize, usize)>>,
}

impl Db for Sizes<'_> {
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>, DbError> {
        let widest = stmts.iter().flat_map(|s| s.params.iter()).map(|p| if let SqlValue::Text(t) = p { t.len() } else { 8 }).max().unwrap_or(0);
        self.batches.borrow_mut().push((stmts.len(), widest));
        self.inner.batch(stmts).await
    }
}

/// One run of the removal worker (as one invocation would), measured.
fn run_once(app: &App, chunks: usize) -> (fanout::Progress, Vec<(usize, usize)>) {
    app.advance(1);
    let batches = RefCell::new(Vec::new());
    let (control, data) = (Sizes { inner: &app.db, batches: &batches }, Sizes { inner: app.data_db(), batches: &batches });
    let p = block_on(fanout::run(&app.over(&control, &data), chunks)).unwrap();
    (p, batches.into_inner())
}

/// Within D1's limits: 1,000 queries per invocation, 100 KB statements
/// (parameters kept well under it).
fn assert_fits_d1(batches: &[(usize, usize)]) {
    let statements: usize = batches.iter().map(|b| b.0).sum();
    assert!(statements < 600, "{statements} statements in one invocation");
    for (n, widest) in batches {
        assert!(*n < 100, "a batch of {n} statements");
        assert!(*widest < 40_000, "a parameter of {widest} bytes");
    }
}

#[test]
fn deleting_a_group_of_50000_members_tells_each_member_then_the_group_in_resumable_chunks() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let gid = group(&app, &dir, "Everyone");
    let other = group(&app, &dir, "Other");
    seed(&app, &dir, BIG, Some(&gid));
    let mark = last_sequence(&app, &dir);

    // Answered at once; the group is gone for reads, its name free again.
    let r = app.scim(&dir, "DELETE", &format!("/Groups/{gid}"), None);
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(app.scim(&dir, "GET", &format!("/Groups/{gid}"), None).status, 404);
    assert_eq!(app.scim(&dir, "DELETE", &format!("/Groups/{gid}"), None).status, 404);
    let again = group(&app, &dir, "Everyone");
    let list = app.scim(&dir, "GET", "/Groups?filter=displayName%20eq%20%22Everyone%22", None);
    assert_eq!(list.body["Resources"][0]["id"], again.as_str());
    assert_eq!(app.scim(&dir, "GET", "/Groups?count=0", None).body["totalResults"], 2);
    assert_eq!(app.admin("GET", &format!("/v1/directory_groups/{gid}"), None).status, 404);
    assert_eq!(app.admin("GET", &format!("/v1/directory_users?group_id={gid}"), None).body["data"], json!([]));
    let groups = app.scim(&dir, "GET", &format!("/Users/{}", bulk(7)), None).body["groups"].clone();
    assert!(groups.is_null() || groups == json!([]), "{groups}");

    // Interrupted after three chunks: exactly those memberships are told.
    let (p, batches) = run_once(&app, 3);
    assert_eq!((p.chunks, p.done), (3, false));
    assert_fits_d1(&batches);
    let told = removed_users(&events_after(&app, &dir, mark), &gid);
    assert_eq!(told.len(), 3 * fanout::CHUNK);
    assert_eq!(int(&app, "SELECT count(*) AS n FROM memberships WHERE group_id = ?1", vec![gid.as_str().into()]), BIG - 3 * fanout::CHUNK as i64);

    // Meanwhile the directory goes on (its events interleave, still gapless).
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": bulk(1)}]}]});
    assert_eq!(app.scim(&dir, "PATCH", &format!("/Groups/{other}"), Some(add)).status, 204);

    let mut runs = 1;
    loop {
        let (p, batches) = run_once(&app, fanout::CHUNKS_AFTER_REQUEST);
        assert_fits_d1(&batches);
        runs += 1;
        if p.done {
            break;
        }
    }
    assert!(runs > (BIG as usize / fanout::CHUNK) / fanout::CHUNKS_AFTER_REQUEST);
    let events = events_after(&app, &dir, mark);
    let removed = removed_users(&events, &gid);
    assert_eq!(removed.len(), BIG as usize);
    assert_eq!(removed.iter().collect::<BTreeSet<_>>().len(), BIG as usize, "each member once");
    let deleted: Vec<_> = events.iter().filter(|e| e.1 == "dsync.group.deleted").collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].3, gid);
    assert_eq!(events.iter().rfind(|e| e.3 == gid).unwrap().1, "dsync.group.deleted", "the group's last event");
    assert_eq!(events.iter().filter(|e| e.1 == "dsync.group.user_added").count(), 1);
    assert_gapless(&app, &dir);
    assert_eq!(int(&app, "SELECT count(*) AS n FROM group_removals", vec![]), 0);
    assert_eq!(int(&app, "SELECT count(*) AS n FROM memberships WHERE group_id = ?1", vec![gid.as_str().into()]), 0);
}

#[test]
fn replacing_the_members_of_a_50000_member_group_tells_exactly_the_changed_memberships() {
    for form in ["PUT", "PATCH"] {
        let app = App::new();
        let dir = app.new_directory("okta");
        let gid = group(&app, &dir, "Everyone");
        seed(&app, &dir, BIG, Some(&gid));
        let newcomer = app.scim(&dir, "POST", "/Users", Some(json!({"userName": "new@x.io"}))).body["id"].as_str().unwrap().to_string();
        let mark = last_sequence(&app, &dir);
        let keep = [bulk(1), bulk(2), newcomer.clone()];
        let members: Vec<_> = keep.iter().map(|id| json!({"value": id})).collect();
        let r = match form {
            "PUT" => app.scim(&dir, "PUT", &format!("/Groups/{gid}"), Some(json!({"displayName": "Everyone", "members": members}))),
            _ => app.scim(
                &dir,
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": members}]})),
            ),
        };
        assert_eq!(r.status, if form == "PUT" { 200 } else { 204 }, "{:?}", r.body);
        // Reads show the new members at once.
        let g = app.scim(&dir, "GET", &format!("/Groups/{gid}"), None);
        let now: BTreeSet<String> = g.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
        assert_eq!(now, keep.iter().cloned().collect());
        assert_eq!(
            events_after(&app, &dir, mark).iter().map(|e| (e.1.as_str(), e.2.as_str())).collect::<Vec<_>>(),
            vec![("dsync.group.user_added", newcomer.as_str())]
        );

        // While the removals are pending, the application still counts those
        // users: adding one back takes its pending removal back (no event),
        // removing one tells it now, deleting one tells it with the user.
        let (p, _) = run_once(&app, 2);
        assert_eq!(p.chunks, 2);
        let patch = |ops| app.scim(&dir, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH], "Operations": ops})));
        assert_eq!(patch(json!([{"op": "add", "path": "members", "value": [{"value": bulk(40_000)}]}])).status, 204);
        assert_eq!(patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", bulk(40_001))}])).status, 204);
        assert_eq!(app.scim(&dir, "DELETE", &format!("/Users/{}", bulk(40_002)), None).status, 204);
        let changed = events_after(&app, &dir, mark);
        assert!(!changed.iter().any(|e| e.2 == bulk(40_000)));
        assert_eq!(changed.iter().filter(|e| e.2 == bulk(40_001)).map(|e| e.1.as_str()).collect::<Vec<_>>(), vec!["dsync.group.user_removed"]);
        assert_eq!(changed.iter().filter(|e| e.2 == bulk(40_002)).map(|e| e.1.as_str()).collect::<Vec<_>>(), vec!["dsync.group.user_removed"]);

        let runs = app.run_removals(fanout::CHUNKS_AFTER_REQUEST);
        assert!(runs >= 2);
        let events = events_after(&app, &dir, mark);
        let removed: BTreeSet<String> = removed_users(&events, &gid).into_iter().collect();
        assert_eq!(removed_users(&events, &gid).len(), removed.len(), "each membership told once");
        let expected: BTreeSet<String> = (3..=BIG).filter(|i| *i != 40_000).map(bulk).collect();
        assert_eq!(removed, expected);
        assert!(!events.iter().any(|e| e.1 == "dsync.group.deleted" || e.1 == "dsync.group.updated"));
        assert_gapless(&app, &dir);
        let g = app.scim(&dir, "GET", &format!("/Groups/{gid}"), None);
        assert_eq!(g.body["members"].as_array().unwrap().len(), 4, "{form}");
        assert_eq!(int(&app, "SELECT count(*) AS n FROM memberships", vec![]), 4);
    }
}

#[test]
fn a_large_group_deleted_while_a_replacement_is_told_ends_with_group_deleted() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let gid = group(&app, &dir, "Everyone");
    seed(&app, &dir, 2_000, Some(&gid));
    let mark = last_sequence(&app, &dir);
    let r = app.scim(&dir, "PUT", &format!("/Groups/{gid}"), Some(json!({"displayName": "Everyone", "members": [{"value": bulk(1)}]})));
    assert_eq!(r.status, 200);
    // The group now has one member, but its earlier removals are untold: the
    // delete waits behind them.
    assert_eq!(app.scim(&dir, "DELETE", &format!("/Groups/{gid}"), None).status, 204);
    app.run_removals(1);
    let events = events_after(&app, &dir, mark);
    assert_eq!(removed_users(&events, &gid).len(), 2_000);
    assert_eq!(events.last().unwrap().1, "dsync.group.deleted");
    assert_gapless(&app, &dir);
}

#[test]
fn a_small_group_keeps_the_single_batch_path() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let gid = group(&app, &dir, "Team");
    seed(&app, &dir, fanout::CHUNK as i64, Some(&gid));
    let mark = last_sequence(&app, &dir);
    assert_eq!(app.scim(&dir, "DELETE", &format!("/Groups/{gid}"), None).status, 204);
    assert_eq!(int(&app, "SELECT count(*) AS n FROM group_removals", vec![]), 0);
    let events = events_after(&app, &dir, mark);
    assert_eq!(removed_users(&events, &gid).len(), fanout::CHUNK);
    assert_eq!(events.last().unwrap().1, "dsync.group.deleted");
}

#[test]
fn a_directory_of_100000_users_is_purged_in_bounded_rounds_with_only_dsync_deleted() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let gid = group(&app, &dir, "Everyone");
    seed(&app, &dir, 2 * BIG, Some(&gid));
    // A pending group removal in the directory is dropped with it, untold.
    assert_eq!(app.scim(&dir, "DELETE", &format!("/Groups/{gid}"), None).status, 204);
    let mark = last_sequence(&app, &dir);
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}", dir.id), None).status, 202);
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations < 100);
        let batches = RefCell::new(Vec::new());
        let (control, data) = (Sizes { inner: &app.db, batches: &batches }, Sizes { inner: app.data_db(), batches: &batches });
        let svc = app.over(&control, &data);
        // The removal worker skips a directory being deleted.
        assert_eq!(block_on(fanout::run(&svc, 1)).unwrap().chunks, 0);
        let (done, rounds) = block_on(maintenance::purge_directory(&svc, &dir.id, maintenance::PURGE_ROUNDS)).unwrap();
        assert!(rounds <= maintenance::PURGE_ROUNDS);
        assert_fits_d1(&batches.borrow());
        if done {
            break;
        }
    }
    assert!(invocations >= 5, "{invocations}");
    let events = events_after(&app, &dir, mark);
    assert_eq!(events.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), vec!["dsync.deleted"]);
    for table in ["users", "memberships", "user_emails", "groups", "group_removals", "directories"] {
        let col = if table == "directories" { "id" } else { "directory_id" };
        assert_eq!(int(&app, &format!("SELECT count(*) AS n FROM {table} WHERE {col} = ?1"), vec![dir.id.as_str().into()]), 0, "{table}");
    }
}
