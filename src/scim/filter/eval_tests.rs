use super::*;
use crate::scim::filter::parse_filter;
use serde_json::json;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223",
        "userName": "bjensen@example.com",
        "externalId": "7dd8e5ab-1c8e-4cd5-8c4e-4d1a7d1d2b5e",
        "displayName": "Group (A) & B",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "title": "Tour Guide",
        "nickName": "",
        "userType": "Employee",
        "active": true,
        "age": 42,
        "score": 2.5,
        "flag": "True",
        "zip": "01234",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "phoneNumbers": [],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915", "displayName": "John Smith"}
        }
    })
}

fn insensitive(_: &AttrPath) -> bool {
    false
}

fn m(filter: &str) -> bool {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    matches(&f, &user(), &insensitive)
}

fn check(cases: &[(&str, bool)]) {
    for (filter, expected) in cases {
        assert_eq!(m(filter), *expected, "{filter}");
    }
}

#[test]
fn string_operators_compare_case_insensitively_by_default() {
    check(&[
        (r#"userName eq "BJensen@Example.com""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName ne "other""#, true),
        (r#"title co "GUIDE""#, true),
        (r#"title sw "tour""#, true),
        (r#"title ew "guide""#, true),
        (r#"title ew "tour""#, false),
        (r#"title gt "Tour""#, true),
        (r#"title ge "tour guide""#, true),
        (r#"title lt "u""#, true),
        (r#"title le "Tour Guide""#, true),
        (r#"title lt "a""#, false),
        (r#"USERNAME eq "bjensen@example.com""#, true),
    ]);
}

#[test]
fn case_exact_attributes_compare_exactly() {
    let f = parse_filter(r#"id eq "2819C223""#).unwrap();
    assert!(!matches(&f, &user(), &|p: &AttrPath| p.name == "id"));
    assert!(matches(&f, &user(), &insensitive));
    let f = parse_filter("ÉCOLE eq 1").err();
    assert!(f.is_some());
    let f = parse_filter(r#"title eq "TOUR GUIDE""#).unwrap();
    assert!(matches(&f, &json!({"title": "tour guide"}), &insensitive));
    let f = parse_filter(r#"title eq "ÉCOLE""#).unwrap();
    assert!(matches(&f, &json!({"title": "école"}), &insensitive));
}

#[test]
fn case_exact_receives_value_path_members_qualified_by_their_parent() {
    let seen = std::cell::RefCell::new(Vec::new());
    let f = parse_filter(r#"emails[type eq "work"]"#).unwrap();
    matches(&f, &user(), &|p: &AttrPath| {
        seen.borrow_mut().push(p.to_string());
        false
    });
    assert!(seen.borrow().iter().all(|p| p == "emails.type"));
}

#[test]
fn numbers_compare_numerically() {
    check(&[
        ("age eq 42", true),
        ("age eq 42.0", true),
        ("age gt 41.5", true),
        ("age ge 42", true),
        ("age lt 42", false),
        ("age le 42", true),
        ("age ne 42", false),
        ("score gt 2", true),
        ("score lt 10", true),
        (r#"age eq "42""#, true),
        ("age co 4", true),
        ("zip eq 1234", false),
        (r#"zip eq "01234""#, true),
        ("externalId sw 7", true),
    ]);
}

#[test]
fn booleans_match_real_and_string_booleans() {
    check(&[
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        (r#"active eq "true""#, true),
        ("flag eq true", true),
        ("flag ne true", false),
        ("active gt false", false),
    ]);
}

#[test]
fn null_and_absence_semantics() {
    check(&[
        ("missing eq null", true),
        ("missing ne null", false),
        ("userName eq null", false),
        ("userName ne null", true),
        (r#"missing ne "x""#, true),
        (r#"missing eq "x""#, false),
        (r#"missing gt "x""#, false),
    ]);
    let f = parse_filter("x eq null").unwrap();
    assert!(matches(&f, &json!({"x": null}), &insensitive));
}

#[test]
fn presence_excludes_null_empty_strings_and_empty_collections() {
    check(&[
        ("title pr", true),
        ("nickName pr", false),
        ("phoneNumbers pr", false),
        ("emails pr", true),
        ("name pr", true),
        ("missing pr", false),
        ("emails.type pr", true),
        ("name.middleName pr", false),
    ]);
    let f = parse_filter("x pr").unwrap();
    assert!(!matches(&f, &json!({"x": {}}), &insensitive));
    assert!(!matches(&f, &json!({"x": null}), &insensitive));
}

#[test]
fn multi_valued_attributes_match_when_any_value_matches() {
    check(&[
        (r#"emails eq "babs@jensen.org""#, true),
        (r#"emails.value co "example.org""#, false),
        (r#"emails.value ew "jensen.org""#, true),
        (r#"emails.type eq "home""#, true),
        (r#"emails.type ne "home""#, true),
        (r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#, true),
        (r#"name.familyName eq "jensen""#, true),
    ]);
}

#[test]
fn value_paths_require_one_element_to_satisfy_the_whole_inner_filter() {
    check(&[
        (r#"emails[type eq "work" and value co "@example.com"]"#, true),
        (r#"emails[type eq "home" and value co "@example.com"]"#, false),
        (r#"emails[type eq "work" and primary eq true]"#, true),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
        (r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
        (r#"name[givenName eq "barbara"]"#, true),
        (r#"userName[value pr]"#, false),
        (r#"missing[value pr]"#, false),
    ]);
}

#[test]
fn logic_combines_as_expected() {
    check(&[
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr and userType eq "Contractor""#, false),
        (r#"title pr or userType eq "Contractor""#, true),
        (r#"not (title pr)"#, false),
        (r#"not (missing pr) and not (not (age eq 42))"#, true),
    ]);
}

#[test]
fn urn_qualified_paths_look_inside_the_extension_or_fall_back_to_core() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let cases = [
        (format!(r#"{ent}:employeeNumber eq "701984""#), true),
        (format!(r#"{ent}:manager.value eq "26118915""#), true),
        (format!(r#"{ent}:manager eq "26118915""#), true),
        (format!(r#"{ent}:userName pr"#), false),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#.to_string(), true),
        ("employeeNumber pr".to_string(), false),
    ];
    for (filter, expected) in cases {
        assert_eq!(m(&filter), expected, "{filter}");
    }
}

#[test]
fn idp_filters_evaluate_as_expected() {
    check(&[
        (r#"userName eq "bjensen@example.com""#, true),
        ("externalId eq 7dd8e5ab-1c8e-4cd5-8c4e-4d1a7d1d2b5e", true),
        (r#"displayName eq "Group (A) & B""#, true),
        (r#"emails eq "bjensen@example.com""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified gt "2010-01-01T00:00:00Z""#, true),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, true),
        (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
        (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, true),
    ]);
}

#[test]
fn single_elements_match_patch_value_filters() {
    let member = json!({"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"});
    let f = parse_filter(r#"value eq "2819C223-7F76-453A-919D-413861904646""#).unwrap();
    assert!(matches(&f, &member, &insensitive));
    assert!(!matches(&f, &member, &|_: &AttrPath| true));
    assert!(!matches(&f, &json!("not an object"), &insensitive));
    assert!(!matches(&f, &json!([member]), &insensitive));
}

#[test]
fn mismatched_types_never_match_except_for_ne() {
    let doc = json!({"a": [1, "x", true, {"k": 1}, [2]], "o": {"k": 1}});
    let f = |s: &str| matches(&parse_filter(s).unwrap(), &doc, &insensitive);
    assert!(f("a eq 1"));
    assert!(f("a eq x"));
    assert!(f("a eq true"));
    assert!(!f("a gt true"));
    assert!(!f("o eq 1"));
    assert!(f("o ne 1"));
    assert!(f("o pr"));
    assert!(!f("a eq 2"));
}
