//! Filters run on real SQLite against the real schema.

use super::*;
use crate::scim::filter::parse_filter;
use crate::stmt;
use crate::storage::sqlite::{block_on, Sqlite};
use crate::storage::{Db, RowExt, Stmt};
use serde_json::json;

fn db() -> Sqlite {
    let db = Sqlite::open_migrated().unwrap();
    let users = [
        (
            "user_a",
            "bjensen@example.com",
            Some("ext-A"),
            json!({
                "userName": "bjensen@example.com", "externalId": "ext-A", "active": true, "title": "Tour Guide", "userType": "Employee",
                "name": {"givenName": "Barbara", "familyName": "Jensen"}, "displayName": "Babs Jensen",
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations", "manager": {"value": "user_c"}},
                "urn:custom:ext": {"shoe": "42"}
            }),
            "2026-01-01T00:00:00.000Z",
        ),
        (
            "user_b",
            "JSmith@Example.com",
            Some("7dd8e5ab-1c8e"),
            json!({
                "userName": "JSmith@Example.com", "externalId": "7dd8e5ab-1c8e", "active": false, "userType": "Contractor",
                "name": {"givenName": "John"}, "emails": [{"value": "jsmith@example.org", "type": "work"}]
            }),
            "2026-02-01T00:00:00.000Z",
        ),
        ("user_c", "100%_sure", None, json!({"userName": "100%_sure", "active": true}), "2026-03-01T00:00:00.000Z"),
    ];
    let mut stmts: Vec<Stmt> = users
        .iter()
        .map(|(id, un, ext, res, at)| {
            stmt!(
                "INSERT INTO users (id, directory_id, user_name, external_id, display_name, active, resource, created_at, updated_at) VALUES (?1, 'd1', ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                *id, *un, *ext, res.get("displayName").and_then(|v| v.as_str()), res["active"].as_bool().unwrap(), res.to_string(), *at
            )
        })
        .collect();
    stmts.push(stmt!("INSERT INTO users (id, directory_id, user_name, active, resource, created_at, updated_at) VALUES ('user_x', 'd2', 'bjensen@example.com', 1, '{\"emails\":[{\"value\":\"babs@jensen.org\"}]}', 't', 't')"));
    for id in ["user_a", "user_b", "user_c", "user_x"] {
        stmts.push(crate::storage::users_groups::users::index_emails(id));
    }
    stmts.push(stmt!(
        "INSERT INTO groups (id, directory_id, display_name, resource, created_at, updated_at) VALUES ('group_1', 'd1', 'Admins', '{}', 't', 't')"
    ));
    stmts.push(stmt!("INSERT INTO memberships (group_id, user_id, directory_id, created_at) VALUES ('group_1', 'user_b', 'd1', 't')"));
    block_on(db.batch(stmts)).unwrap();
    db
}

fn users(db: &Sqlite, filter: &str) -> Vec<String> {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let scope = Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" };
    let frag = where_clause(&scope, &f).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let mut params = vec![SqlValue::Text("d1".into())];
    params.extend(frag.params);
    let sql = format!("SELECT u.id FROM users u WHERE u.directory_id = ? AND ({}) ORDER BY u.id", frag.sql);
    let r = block_on(db.batch(vec![Stmt::new(sql.clone(), params)])).unwrap_or_else(|e| panic!("{sql}: {e}"));
    r[0].rows.iter().map(|r| r.string("id")).collect()
}

fn err(filter: &str) -> ScimError {
    let f = parse_filter(filter).unwrap();
    where_clause(&Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" }, &f).unwrap_err()
}

#[test]
fn user_name_eq_ignores_case_and_stays_in_the_directory() {
    let db = db();
    assert_eq!(users(&db, r#"userName eq "BJENSEN@example.com""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"userName eq "jsmith@example.com""#), vec!["user_b"]);
    assert!(users(&db, r#"userName eq "nobody@example.com""#).is_empty());
}

#[test]
fn external_id_is_case_exact_and_accepts_unquoted_values() {
    let db = db();
    assert_eq!(users(&db, "externalId eq 7dd8e5ab-1c8e"), vec!["user_b"]);
    assert!(users(&db, r#"externalId eq "EXT-A""#).is_empty());
}

#[test]
fn entra_matches_on_the_work_email() {
    let db = db();
    assert_eq!(users(&db, r#"emails[type eq "work"].value eq "bjensen@example.com""#), vec!["user_a"]);
    assert!(users(&db, r#"emails[type eq "home"].value eq "bjensen@example.com""#).is_empty());
}

#[test]
fn ping_matches_a_multi_valued_attribute_without_sub_attribute() {
    let db = db();
    assert_eq!(users(&db, r#"emails eq "babs@jensen.org""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"emails.value co "example.""#), vec!["user_a", "user_b"]);
}

#[test]
fn string_operators_escape_like_wildcards() {
    let db = db();
    assert_eq!(users(&db, r#"userName sw "100%_""#), vec!["user_c"]);
    assert!(users(&db, r#"userName co "0%x""#).is_empty());
    assert_eq!(users(&db, r#"userName ew "EXAMPLE.COM""#), vec!["user_a", "user_b"]);
    assert_eq!(users(&db, r#"name.givenName sw "bar""#), vec!["user_a"]);
}

#[test]
fn string_operators_take_values_longer_than_d1_runs_as_like_patterns() {
    let db = db();
    let long = format!("{}@example.com", "a-rather-long-local-part.".repeat(3));
    let resource = json!({ "userName": long }).to_string();
    let insert = "INSERT INTO users (id, directory_id, user_name, active, resource, created_at, updated_at) VALUES ('user_l', 'd1', ?1, 1, ?2, 't', 't')";
    block_on(db.batch(vec![stmt!(insert, long.as_str(), resource)])).unwrap();
    let upper = long.to_ascii_uppercase();
    let (head, middle, tail) = (&upper[..60], &upper[1..upper.len() - 1], &upper[upper.len() - 60..]);
    assert_eq!(users(&db, &format!(r#"userName co "{middle}""#)), vec!["user_l"]);
    assert_eq!(users(&db, &format!(r#"userName sw "{head}""#)), vec!["user_l"]);
    assert_eq!(users(&db, &format!(r#"userName ew "{tail}""#)), vec!["user_l"]);
    assert!(users(&db, &format!(r#"userName sw "{tail}""#)).is_empty());
    assert!(users(&db, &format!(r#"userName co "{head}%""#)).is_empty(), "taken literally");
}

#[test]
fn booleans_and_string_booleans_filter_active() {
    let db = db();
    assert_eq!(users(&db, "active eq false"), vec!["user_b"]);
    assert_eq!(users(&db, r#"active eq "True""#), vec!["user_a", "user_c"]);
    assert_eq!(err("active gt true").scim_type, Some(crate::scim::ScimType::InvalidFilter));
}

#[test]
fn logic_presence_and_not() {
    let db = db();
    assert_eq!(users(&db, r#"title pr and userType eq "Employee""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"userType eq "Employee" or userType eq "Contractor""#), vec!["user_a", "user_b"]);
    assert_eq!(users(&db, r#"not (userType eq "Employee")"#), vec!["user_b", "user_c"]);
    assert_eq!(users(&db, r#"userType ne "Employee""#), vec!["user_b", "user_c"]);
    assert_eq!(users(&db, "title eq null"), vec!["user_b", "user_c"]);
    assert_eq!(users(&db, "emails pr"), vec!["user_a", "user_b"]);
    assert_eq!(users(&db, "name pr"), vec!["user_a", "user_b"]);
}

#[test]
fn enterprise_and_unknown_extension_paths() {
    let db = db();
    assert_eq!(users(&db, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "user_c""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"urn:custom:ext:shoe eq "42""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#), vec!["user_a"]);
}

#[test]
fn meta_dates_compare_as_instants() {
    let db = db();
    assert_eq!(users(&db, r#"meta.created gt "2026-01-15T00:00:00Z""#), vec!["user_b", "user_c"]);
    assert_eq!(users(&db, r#"meta.lastModified le "2026-02-01T01:00:00+01:00""#), vec!["user_a", "user_b"]);
    assert_eq!(err(r#"meta.created gt "yesterday""#).scim_type, Some(crate::scim::ScimType::InvalidFilter));
}

#[test]
fn group_membership_filters_use_the_membership_rows() {
    let db = db();
    assert_eq!(users(&db, r#"groups.value eq "group_1""#), vec!["user_b"]);
    assert_eq!(users(&db, r#"groups[display eq "admins"]"#), vec!["user_b"]);
    let f = parse_filter(r#"members[value eq "user_b"]"#).unwrap();
    let frag = where_clause(&Scope { kind: ResourceKind::Group, alias: "g", directory_id: "d1" }, &f).unwrap();
    let mut params = vec![SqlValue::Text("d1".into())];
    params.extend(frag.params);
    let sql = format!("SELECT g.id FROM groups g WHERE g.directory_id = ? AND ({})", frag.sql);
    let r = block_on(db.batch(vec![Stmt::new(sql.clone(), params.clone())])).unwrap();
    assert_eq!(r[0].rows.len(), 1);
    let plan = block_on(db.batch(vec![Stmt::new(format!("EXPLAIN QUERY PLAN {sql}"), params)])).unwrap();
    let plan: Vec<String> = plan[0].rows.iter().map(|r| r.string("detail")).collect();
    assert!(plan.iter().any(|d| d.contains("INDEX memberships_user (user_id=?)")), "{plan:?}");
}

#[test]
fn unknown_attributes_are_invalid_filters() {
    assert_eq!(err(r#"shoeSize eq "42""#).scim_type, Some(crate::scim::ScimType::InvalidFilter));
    assert_eq!(err(r#"emails[shoe eq "x"]"#).scim_type, Some(crate::scim::ScimType::InvalidFilter));
    assert_eq!(err(r#"userName.x eq "x""#).scim_type, Some(crate::scim::ScimType::InvalidFilter));
}

#[test]
fn sorting_by_a_multi_valued_attribute_uses_its_primary_value() {
    let db = db();
    let scope = Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" };
    let expr = order_expr(&scope, &crate::scim::filter::parse_attr_path("emails").unwrap()).unwrap();
    let sql = format!("SELECT u.id FROM users u WHERE u.directory_id = 'd1' ORDER BY ({expr}) IS NULL, {expr}, u.id");
    let r = block_on(db.batch(vec![stmt!(sql)])).unwrap();
    let ids: Vec<String> = r[0].rows.iter().map(|r| r.string("id")).collect();
    assert_eq!(ids, vec!["user_a", "user_b", "user_c"]);
}

#[test]
fn stmt_param_order_matches_placeholders() {
    let f = parse_filter(r#"userName sw "a" and (title co "b" or externalId eq "c")"#).unwrap();
    let frag = where_clause(&Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" }, &f).unwrap();
    assert_eq!(frag.sql.matches('?').count(), frag.params.len());
    assert_eq!(frag.params, vec![SqlValue::Text("a%".into()), SqlValue::Text("%b%".into()), SqlValue::Text("c".into())]);
}

#[test]
fn indexed_equality_filters_use_the_index() {
    let db = db();
    let plan = |filter: &str| {
        let f = parse_filter(filter).unwrap();
        let frag = where_clause(&Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" }, &f).unwrap();
        let mut params = vec![SqlValue::Text("d1".into())];
        params.extend(frag.params);
        let sql = format!("EXPLAIN QUERY PLAN SELECT u.id FROM users u WHERE u.directory_id = ? AND ({})", frag.sql);
        let r = block_on(db.batch(vec![Stmt::new(sql, params)])).unwrap();
        r[0].rows.iter().map(|r| r.string("detail")).collect::<Vec<_>>().join("; ")
    };
    assert!(plan(r#"userName eq "a@b.c""#).contains("users_user_name"), "{}", plan(r#"userName eq "a@b.c""#));
    assert!(plan(r#"externalId eq "e""#).contains("users_external_id"), "{}", plan(r#"externalId eq "e""#));
    let g = plan(r#"groups.value eq "g""#);
    assert!(g.contains("mx1 USING PRIMARY KEY (group_id=?)"), "{g}");
}

#[test]
fn email_matching_uses_the_email_index_and_stays_exact() {
    let db = db();
    assert_eq!(users(&db, r#"emails[type eq "work"].value eq "BJENSEN@example.com""#), vec!["user_a"]);
    assert_eq!(users(&db, r#"emails[value eq "babs@jensen.org" and type eq "home"]"#), vec!["user_a"]);
    assert!(users(&db, r#"emails[type eq "work"].value eq "babs@jensen.org""#).is_empty());
    assert_eq!(users(&db, r#"emails eq "babs@jensen.org""#), vec!["user_a"]);
    let f = parse_filter(r#"emails[type eq "work"].value eq "x@y.z""#).unwrap();
    let frag = where_clause(&Scope { kind: ResourceKind::User, alias: "u", directory_id: "d1" }, &f).unwrap();
    let mut params = vec![SqlValue::Text("d1".into())];
    params.extend(frag.params);
    let sql = format!("EXPLAIN QUERY PLAN SELECT u.id FROM users u WHERE u.directory_id = ? AND ({}) ORDER BY u.id", frag.sql);
    let r = block_on(db.batch(vec![Stmt::new(sql, params)])).unwrap();
    let plan: Vec<String> = r[0].rows.iter().map(|r| r.string("detail")).collect();
    assert!(plan.iter().any(|d| d.contains("user_emails_value")), "{plan:?}");
    assert!(!plan.iter().any(|d| d.starts_with("SCAN u")), "{plan:?}");
}

#[test]
fn a_filter_binding_more_values_than_d1_allows_is_an_invalid_filter() {
    let db = db();
    let ok: Vec<String> = (0..MAX_FILTER_PARAMS).map(|i| format!("userName eq \"u{i}\"")).collect();
    assert!(users(&db, &ok.join(" or ")).is_empty());
    let too_many: Vec<String> = (0..=MAX_FILTER_PARAMS).map(|i| format!("userName eq \"u{i}\"")).collect();
    assert_eq!(err(&too_many.join(" or ")).scim_type, Some(crate::scim::ScimType::InvalidFilter));
}
