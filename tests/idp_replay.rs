#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! IdP replay: each `tests/fixtures/idp/<idp>.json` is the request sequence a
//! real identity provider sends (docs/IDP-QUIRKS.md § Required server behaviour), with the expected answers,
//! end state and event log. `tests/e2e/test_idp_replay.py` replays the same
//! files against the real Worker with the same logic; the format is described
//! in `tests/fixtures/idp/README.md`.

mod support;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use support::{App, Dir};

type Vars = BTreeMap<String, String>;

/// `${name}` in every string of `v` replaced by a saved value.
fn subst(v: &Value, vars: &Vars) -> Value {
    match v {
        Value::String(s) => Value::String(subst_str(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| subst(x, vars)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (subst_str(k, vars), subst(x, vars))).collect()),
        other => other.clone(),
    }
}

fn subst_str(s: &str, vars: &Vars) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let end = rest[i..].find('}').map(|j| i + j).unwrap_or_else(|| panic!("unclosed ${{ in {s:?}"));
        let name = &rest[i + 2..end];
        out.push_str(&rest[..i]);
        out.push_str(vars.get(name).unwrap_or_else(|| panic!("unknown variable ${{{name}}} in {s:?}")));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A dotted path into a JSON value; numeric segments index arrays.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => cur.get(seg),
    })
}

fn is_unassigned(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null)) || v.and_then(Value::as_array).is_some_and(Vec::is_empty)
}

/// Subset match (see the README): objects by their expected keys, arrays
/// unordered with equal length, `"$any"` / `"$absent"`, null or `[]` also
/// match an absent attribute, numbers by value.
fn check(exp: &Value, act: Option<&Value>, at: &str) -> Result<(), String> {
    let fail = || Err(format!("at {at}: expected {exp}, got {}", act.map_or("<absent>".to_string(), Value::to_string)));
    match exp {
        Value::String(s) if s == "$any" => {
            if is_unassigned(act) {
                fail()
            } else {
                Ok(())
            }
        }
        Value::Null => {
            if is_unassigned(act) {
                Ok(())
            } else {
                fail()
            }
        }
        Value::Array(e) if e.is_empty() => {
            if is_unassigned(act) {
                Ok(())
            } else {
                fail()
            }
        }
        Value::Object(e) => {
            let Some(Value::Object(a)) = act else { return fail() };
            for (k, ev) in e {
                if ev.as_str() == Some("$absent") {
                    if a.contains_key(k) {
                        return Err(format!("at {at}.{k}: expected absent, got {}", a[k]));
                    }
                } else {
                    check(ev, a.get(k), &format!("{at}.{k}"))?;
                }
            }
            Ok(())
        }
        Value::Array(e) => {
            let Some(Value::Array(a)) = act else { return fail() };
            if a.len() != e.len() {
                return fail();
            }
            let mut used = vec![false; a.len()];
            for (i, ev) in e.iter().enumerate() {
                let hit = (0..a.len()).find(|&j| !used[j] && check(ev, Some(&a[j]), "").is_ok());
                match hit {
                    Some(j) => used[j] = true,
                    None => return Err(format!("at {at}[{i}]: no element matches {ev} in {}", Value::Array(a.clone()))),
                }
            }
            Ok(())
        }
        Value::Number(n) => match act.and_then(Value::as_f64) {
            Some(x) if act.is_some_and(Value::is_number) && n.as_f64() == Some(x) => Ok(()),
            _ => fail(),
        },
        _ => {
            if act == Some(exp) {
                Ok(())
            } else {
                fail()
            }
        }
    }
}

struct Replay<'a> {
    app: &'a App,
    dir: Dir,
    vars: Vars,
    name: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Replay<'_> {
    fn send(&self, target: &str, method: &str, path: &str, headers: &[(String, String)], body: Option<Vec<u8>>) -> Answer {
        let r = if target == "api" {
            self.app.admin(method, path, body.map(|b| serde_json::from_slice(&b).unwrap()))
        } else {
            let mut h: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
            if !h.iter().any(|(k, _)| k == "authorization") {
                h.push(("authorization".into(), format!("Bearer {}", self.dir.token)));
            }
            if body.is_some() && !h.iter().any(|(k, _)| k == "content-type") {
                h.push(("content-type".into(), "application/scim+json".into()));
            }
            self.app.raw(method, &format!("{}{path}", self.dir.base), h, body.unwrap_or_default()).0
        };
        Answer { status: r.status, headers: r.raw.headers.clone(), body: r.body }
    }

    fn get(&self, target: &str, path: &str) -> Answer {
        self.send(target, "GET", &subst_str(path, &self.vars), &[], None)
    }

    fn ok(&self, what: &str, r: Result<(), String>) {
        if let Err(e) = r {
            panic!("[{}] {what}: {e}", self.name);
        }
    }

    fn step(&mut self, n: usize, step: &Value) {
        // Natively there is one thread: the parallel requests run in order.
        if let Some(list) = step.get("parallel").and_then(Value::as_array) {
            for (i, sub) in list.iter().enumerate() {
                self.step_one(&format!("{n}.{}", i + 1), sub);
            }
            return;
        }
        self.step_one(&n.to_string(), step);
    }

    fn step_one(&mut self, n: &str, step: &Value) {
        let label = format!("step {n} {:?}", step["name"].as_str().unwrap_or(""));
        let method = step["method"].as_str().unwrap();
        let path = subst_str(step["path"].as_str().unwrap(), &self.vars);
        let headers: Vec<(String, String)> = step
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.iter().map(|(k, v)| (k.clone(), subst_str(v.as_str().unwrap(), &self.vars))).collect())
            .unwrap_or_default();
        let body = match (step.get("body"), step.get("raw_body")) {
            (Some(b), _) => Some(subst(b, &self.vars).to_string().into_bytes()),
            (None, Some(raw)) => Some(subst_str(raw.as_str().unwrap(), &self.vars).into_bytes()),
            (None, None) => None,
        };
        let r = self.send(step.get("target").and_then(Value::as_str).unwrap_or("scim"), method, &path, &headers, body);
        let exp = &step["expect"];
        let got = format!("{method} {path} -> {} {}", r.status, r.body);
        if exp["status"].as_u64() != Some(u64::from(r.status)) {
            panic!("[{}] {label}: expected status {}, got {got}", self.name, exp["status"]);
        }
        if let Some(save) = exp.get("save").and_then(Value::as_object) {
            for (var, p) in save {
                let v = lookup(&r.body, p.as_str().unwrap()).and_then(Value::as_str);
                let v = v.unwrap_or_else(|| panic!("[{}] {label}: nothing to save at {p} in {got}", self.name));
                self.vars.insert(var.clone(), v.to_string());
            }
        }
        if let Some(h) = exp.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                let want = subst_str(v.as_str().unwrap(), &self.vars);
                let have = r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
                if !have.is_some_and(|h| h.contains(&want)) {
                    panic!("[{}] {label}: header {k} should contain {want:?}, got {have:?} ({got})", self.name);
                }
            }
        }
        if let Some(b) = exp.get("body") {
            self.ok(&label, check(&subst(b, &self.vars), Some(&r.body), "body").map_err(|e| format!("{e}\n  ({got})")));
        }
    }

    /// Every expected resource read back (SCIM and the app's view), the
    /// deleted ones 404, and the lists hold exactly the expected ids.
    fn end_state(&self, end: &Value) {
        for (kind, api) in [("users", "directory_users"), ("groups", "directory_groups")] {
            let scim_path = if kind == "users" { "/Users" } else { "/Groups" };
            let mut ids = BTreeSet::new();
            for item in end.get(kind).and_then(Value::as_array).into_iter().flatten() {
                let item = subst(item, &self.vars);
                let id = item["id"].as_str().unwrap().to_string();
                let r = self.get("scim", &format!("{scim_path}/{id}"));
                self.ok(&format!("end state GET {scim_path}/{id}"), if r.status == 200 { Ok(()) } else { Err(format!("status {}", r.status)) });
                if let Some(s) = item.get("scim") {
                    self.ok(&format!("end state {scim_path}/{id}"), check(s, Some(&r.body), "body"));
                }
                if let Some(m) = item.get("members").and_then(Value::as_array) {
                    let want: BTreeSet<&str> = m.iter().filter_map(Value::as_str).collect();
                    let have: BTreeSet<&str> =
                        r.body.get("members").and_then(Value::as_array).into_iter().flatten().filter_map(|x| x["value"].as_str()).collect();
                    self.ok(&format!("end state members of {id}"), if want == have { Ok(()) } else { Err(format!("expected {want:?}, got {have:?}")) });
                }
                if let Some(v) = item.get("view") {
                    let r = self.get("api", &format!("/v1/{api}/{id}"));
                    self.ok(&format!("end state /v1/{api}/{id}"), check(v, Some(&r.body), "body").map_err(|e| format!("{e} (status {})", r.status)));
                }
                ids.insert(id);
            }
            let list = self.get("scim", &format!("{scim_path}?startIndex=1&count=100"));
            let listed: BTreeSet<String> = list.body["Resources"].as_array().into_iter().flatten().map(|x| x["id"].as_str().unwrap().to_string()).collect();
            self.ok(
                &format!("end state list {scim_path}"),
                if listed == ids && list.body["totalResults"].as_u64() == Some(ids.len() as u64) {
                    Ok(())
                } else {
                    Err(format!("expected {ids:?}, got {}", list.body))
                },
            );
            let view = self.get("api", &format!("/v1/{api}?directory_id=${{directory_id}}&limit=100"));
            let viewed: BTreeSet<String> = view.body["data"].as_array().into_iter().flatten().map(|x| x["id"].as_str().unwrap().to_string()).collect();
            self.ok(&format!("end state /v1/{api}"), if viewed == ids { Ok(()) } else { Err(format!("expected {ids:?}, got {}", view.body)) });
        }
        for p in end.get("absent").and_then(Value::as_array).into_iter().flatten() {
            let r = self.get("scim", p.as_str().unwrap());
            self.ok(&format!("end state GET {p}"), if r.status == 404 { Ok(()) } else { Err(format!("expected 404, got {} {}", r.status, r.body)) });
        }
    }

    /// The whole event log: events in this order (an `unordered` entry
    /// matches the next events in any order), `data` subsets, gapless sequence.
    fn events(&self, expected: &[Value]) {
        let got = self.app.events(&self.dir);
        let one = |e: &Value| if e.is_string() { serde_json::json!({ "event": e }) } else { subst(e, &self.vars) };
        let (mut at, mut want, mut result) = (0, Vec::new(), Ok(()));
        for e in expected {
            let (exp, actual, n) = match e.get("unordered").and_then(Value::as_array) {
                Some(l) => (Value::Array(l.iter().map(one).collect()), got.get(at..at + l.len()).map(|s| Value::Array(s.to_vec())), l.len()),
                None => (one(e), got.get(at).cloned(), 1),
            };
            want.extend(exp.as_array().cloned().unwrap_or_else(|| vec![exp.clone()]).iter().map(|x| x["event"].as_str().unwrap().to_string()));
            if result.is_ok() {
                result = check(&exp, actual.as_ref(), &format!("events[{at}]"));
            }
            at += n;
        }
        if result.is_ok() && at != got.len() {
            result = Err(format!("expected {at} events, got {}", got.len()));
        }
        let names: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
        self.ok("events", result.map_err(|e| format!("{e}\n  expected {want:?}\n  got      {names:?}")));
        for (i, g) in got.iter().enumerate() {
            self.ok("events", check(&Value::from(i + 1), g.get("sequence"), &format!("events[{i}].sequence")));
        }
    }
}

fn replay(file: &str) {
    let path = format!("{}/tests/fixtures/idp/{file}.json", env!("CARGO_MANIFEST_DIR"));
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap_or_else(|e| panic!("{path}: {e}"));
    let app = App::new();
    let dir = app.new_directory(fx["provider"].as_str().unwrap());
    let vars = Vars::from([("directory_id".to_string(), dir.id.clone()), ("organization_id".to_string(), dir.org.clone())]);
    let mut run = Replay { app: &app, dir, vars, name: file.to_string() };
    for (n, step) in fx["steps"].as_array().unwrap().iter().enumerate() {
        run.step(n + 1, step);
    }
    run.end_state(&fx["end_state"]);
    run.events(fx["events"].as_array().unwrap());
}

#[test]
fn okta() {
    replay("okta");
}

#[test]
fn entra_id() {
    replay("entra_id");
}

#[test]
fn entra_id_aadoptscim062020() {
    replay("entra_id_aadoptscim062020");
}

#[test]
fn cyberark() {
    replay("cyberark");
}

#[test]
fn pingfederate() {
    replay("pingfederate");
}

#[test]
fn onelogin() {
    replay("onelogin");
}

#[test]
fn jumpcloud() {
    replay("jumpcloud");
}

#[test]
fn rippling() {
    replay("rippling");
}
