//! Cross-checks against the `scim_v2` crate, real identity-provider filters,
//! and a pseudo-random robustness test.

use super::*;
use serde_json::json;

const SCIM_V2_ACCEPTS: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    "title pr",
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    "active eq true",
    "active eq false",
    "manager eq null",
    "age gt 30",
    "score le -1.5e3",
    r#"userName eq "a\"b\\c""#,
    r#"displayName eq "\u00e9t\u00e9""#,
    r#"displayName eq "Group (A) & B""#,
    r#"externalId eq "7dd8e5ab-1c8e-4cd5-8c4e-4d1a7d1d2b5e""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
    r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    r#"emails[not (type eq "home")]"#,
    r#"not (userName eq "x")"#,
    r#"(userName eq "x")"#,
    r#"((userName eq "x" or userName eq "y") and active eq true)"#,
    r#"userName EQ "x" AND title PR"#,
    r#"userName Eq "x" Or title pr"#,
    r#"id eq "1" or id eq "2" or id eq "3" or id eq "4""#,
    r#"emails co "example.com""#,
    r#"userName ew ".com""#,
    r#"x ne "y""#,
    r#"emails[type eq "work" and primary eq true]"#,
    r#"userName eq """#,
    r#"  userName eq "x"  "#,
    r#"name.givenName eq "Zoë""#,
];

const SCIM_V2_REJECTS: &[&str] = &[
    "",
    "userName",
    "userName eq",
    r#"userName xx "a""#,
    r#"userName eq "a" "b""#,
    r#"(userName eq "a""#,
    r#"userName eq "a")"#,
    r#"userName eq "abc"#,
    r#"title pr "x""#,
    r#"emails[type eq "work""#,
    r#"emails[type eq "work"]]"#,
    r#"emails[type eq "work"] eq "x""#,
    r#"not userName eq "a""#,
    "and userName pr",
    r#"userName eq "a" and"#,
    r#"emails[type[value eq "x"]]"#,
    r#"userName eq "a\qb""#,
    "9abc eq 1",
    r#"userName eq "a" or"#,
];

#[test]
fn filters_accepted_by_scim_v2_are_accepted() {
    for s in SCIM_V2_ACCEPTS {
        assert!(s.parse::<scim_v2::filter::Filter>().is_ok(), "scim_v2 should accept {s:?}");
        assert!(parse_filter(s).is_ok(), "we should accept {s:?}: {:?}", parse_filter(s));
    }
}

#[test]
fn filters_rejected_by_scim_v2_are_rejected() {
    for s in SCIM_V2_REJECTS {
        assert!(s.parse::<scim_v2::filter::Filter>().is_err(), "scim_v2 should reject {s:?}");
        assert!(parse_filter(s).is_err(), "we should reject {s:?}: {:?}", parse_filter(s));
    }
}

fn named(s: &str) -> AttrPath {
    AttrPath::named(s)
}

fn sub(a: &str, b: &str) -> AttrPath {
    AttrPath { uri: None, name: a.into(), sub_attr: Some(b.into()) }
}

fn cmp(path: AttrPath, op: CompareOp, v: &str) -> Filter {
    Filter::Compare { path, op, value: CompValue::String(v.into()) }
}

fn bx(f: Filter) -> Box<Filter> {
    Box::new(f)
}

#[test]
fn identity_provider_filters_parse_to_the_expected_trees() {
    let p = |s: &str| parse_filter(s).unwrap();
    assert_eq!(p(r#"userName eq "bjensen@example.com""#), cmp(named("userName"), CompareOp::Eq, "bjensen@example.com"));
    let ext = "7dd8e5ab-1c8e-4cd5-8c4e-4d1a7d1d2b5e";
    assert_eq!(p(&format!("externalId eq {ext}")), cmp(named("externalId"), CompareOp::Eq, ext));
    assert_eq!(p(r#"displayName eq "Group (A) & B""#), cmp(named("displayName"), CompareOp::Eq, "Group (A) & B"));
    assert_eq!(p(r#"emails eq "a@b.c""#), cmp(named("emails"), CompareOp::Eq, "a@b.c"));
    let inner = Filter::And(bx(cmp(named("type"), CompareOp::Eq, "work")), bx(cmp(named("value"), CompareOp::Eq, "x@y.z")));
    assert_eq!(p(r#"emails[type eq "work"].value eq "x@y.z""#), Filter::ValuePath { attr: named("emails"), filter: bx(inner) });
    let ts = "2011-05-13T04:42:34Z";
    assert_eq!(p(&format!(r#"meta.lastModified gt "{ts}""#)), cmp(sub("meta", "lastModified"), CompareOp::Gt, ts));
    assert_eq!(
        p(r#"title pr and userType eq "Employee""#),
        Filter::And(bx(Filter::Present(named("title"))), bx(cmp(named("userType"), CompareOp::Eq, "Employee")))
    );
    let either = Filter::Or(bx(cmp(named("emails"), CompareOp::Co, "example.com")), bx(cmp(sub("emails", "value"), CompareOp::Co, "example.org")));
    let emp = |op| cmp(named("userType"), op, "Employee");
    assert_eq!(
        p(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#),
        Filter::And(bx(emp(CompareOp::Eq)), bx(either.clone()))
    );
    assert_eq!(
        p(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#),
        Filter::And(bx(emp(CompareOp::Ne)), bx(Filter::Not(bx(either))))
    );
    let vp = |attr: &str, t: &str, v: &str| Filter::ValuePath {
        attr: named(attr),
        filter: bx(Filter::And(bx(cmp(named("type"), CompareOp::Eq, t)), bx(cmp(named("value"), CompareOp::Co, v)))),
    };
    assert_eq!(
        p(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#),
        Filter::Or(bx(vp("emails", "work", "@example.com")), bx(vp("ims", "xmpp", "@foo.com")))
    );
}

/// Deterministic xorshift generator; no external dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "(", ")", "[", "]", "\"", "\\", " ", "\t", ".", ":", "$", "$ref", "eq", "EQ", "pr", "and", "or", "not", "not (", "urn:", "urn:a:b:", "userName", "emails",
    "value", "1", "-", "0.5e", "e9", "true", "null", "é", "😀", "\\u", "\\ud83d", "\\u00", "\\n", "\"x\"", "].value", "]", "co", "gt", "x@y", ",", "\u{0}",
    "\u{a0}",
];

fn exercise(input: &str) {
    let doc = json!({"userName": "x", "emails": [{"value": "x@y", "type": "work"}], "n": 1, "b": true});
    let outcome = std::panic::catch_unwind(|| {
        if let Ok(f) = parse_filter(input) {
            let _ = matches(&f, &doc, &|_: &AttrPath| false);
        }
        let _ = parse_patch_path(input);
        let _ = parse_attr_list(input);
        let _ = parse_attr_path(input);
    });
    assert!(outcome.is_ok(), "panicked on {input:?}");
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..600 {
        let len = rng.below(24);
        let s: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        exercise(&s);
    }
    for base in SCIM_V2_ACCEPTS.iter().chain(SCIM_V2_REJECTS) {
        for _ in 0..20 {
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = PIECES[rng.below(PIECES.len())].chars().next().unwrap_or('x'),
                    _ => chars.insert(at, "()[]\"\\ .:é".chars().nth(rng.below(10)).unwrap_or('x')),
                }
            }
            exercise(&chars.into_iter().collect::<String>());
        }
    }
    exercise(&"(".repeat(10_000));
    exercise(&"not (".repeat(2000));
    exercise(&"a pr and ".repeat(900));
    exercise(&format!("a eq \"{}", "\\".repeat(5000)));
}
