use super::*;
use crate::scim::filter::CompValue;

fn p(s: &str) -> Filter {
    match parse_filter(s) {
        Ok(f) => f,
        Err(e) => panic!("{s:?} failed: {e}"),
    }
}

fn err(s: &str) -> FilterError {
    match parse_filter(s) {
        Ok(f) => panic!("{s:?} unexpectedly parsed as {f:?}"),
        Err(e) => e,
    }
}

fn path(s: &str) -> AttrPath {
    AttrPath::from_token(s, 0).unwrap()
}

fn cmp(attr: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path: path(attr), op, value }
}

fn eq_s(attr: &str, v: &str) -> Filter {
    cmp(attr, CompareOp::Eq, CompValue::String(v.into()))
}

fn eq_n(attr: &str, n: i64) -> Filter {
    cmp(attr, CompareOp::Eq, CompValue::Number(n.into()))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn vp(attr: &str, f: Filter) -> Filter {
    Filter::ValuePath { attr: path(attr), filter: Box::new(f) }
}

#[test]
fn every_operator_parses_in_any_case() {
    for (kw, op) in [
        ("eq", CompareOp::Eq),
        ("NE", CompareOp::Ne),
        ("Co", CompareOp::Co),
        ("sW", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("GT", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("Le", CompareOp::Le),
    ] {
        assert_eq!(p(&format!(r#"title {kw} "x""#)), cmp("title", op, CompValue::String("x".into())));
    }
    assert_eq!(p("title PR"), Filter::Present(path("title")));
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(p("a eq 1 or b eq 2 and c eq 3"), or(eq_n("a", 1), and(eq_n("b", 2), eq_n("c", 3))));
    assert_eq!(p("a eq 1 and b eq 2 or c eq 3"), or(and(eq_n("a", 1), eq_n("b", 2)), eq_n("c", 3)));
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(p("(a eq 1 or b eq 2) and c eq 3"), and(or(eq_n("a", 1), eq_n("b", 2)), eq_n("c", 3)));
    assert_eq!(p("((a pr))"), Filter::Present(path("a")));
}

#[test]
fn logical_keywords_are_case_insensitive_and_whitespace_is_flexible() {
    let expected = or(and(eq_n("a", 1), not(eq_n("b", 2))), eq_n("c", 3));
    assert_eq!(p("a eq 1 AND NOT (b eq 2) Or c eq 3"), expected);
    assert_eq!(p("  a   eq\t1 \t and  not(b eq 2)   or c  eq  3  "), expected);
}

#[test]
fn same_operator_chains_are_equivalent_balanced_trees() {
    assert_eq!(p("a pr and b pr and c pr"), and(and(p("a pr"), p("b pr")), p("c pr")));
    let f = p("a pr and b pr and c pr and d pr");
    assert_eq!(f, and(and(p("a pr"), p("b pr")), and(p("c pr"), p("d pr"))));
    let many = (0..500).map(|i| format!("id eq \"{i}\"")).collect::<Vec<_>>().join(" or ");
    fn depth(f: &Filter) -> usize {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
            _ => 1,
        }
    }
    assert!(depth(&p(&many)) <= 10);
}

#[test]
fn not_requires_parentheses() {
    assert_eq!(p(r#"not (userName eq "x")"#), not(eq_s("userName", "x")));
    assert_eq!(p(r#"not(userName eq "x")"#), not(eq_s("userName", "x")));
    assert_eq!(err(r#"not userName eq "x""#).position, 4);
    assert_eq!(p("not eq 1"), eq_n("not", 1));
}

#[test]
fn attribute_paths_support_sub_attributes_urns_and_ref() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let f = p(&format!(r#"{ent}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#));
    let Filter::Compare { path, .. } = f else { panic!() };
    assert_eq!(path.uri.as_deref(), Some(ent));
    assert_eq!((path.name.as_str(), path.sub_attr.as_deref()), ("manager", Some("value")));
    let f = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#);
    let Filter::Compare { path, .. } = f else { panic!() };
    assert_eq!(path.uri.as_deref(), Some("urn:ietf:params:scim:schemas:core:2.0:User"));
    assert_eq!(path.name, "userName");
    assert_eq!(p(r#"members[$ref eq "x"]"#), vp("members", eq_s("$ref", "x")));
    assert_eq!(p(r#"URN:a:b:x eq 1"#), cmp("URN:a:b:x", CompareOp::Eq, CompValue::Number(1.into())));
}

#[test]
fn values_are_strings_numbers_booleans_or_null() {
    assert_eq!(p("a eq 1.5e2"), cmp("a", CompareOp::Eq, CompValue::Number(serde_json::Number::from_f64(150.0).unwrap())));
    assert_eq!(p("a eq -3"), eq_n("a", -3));
    assert_eq!(p("a eq True"), cmp("a", CompareOp::Eq, CompValue::Bool(true)));
    assert_eq!(p("a ne FALSE"), cmp("a", CompareOp::Ne, CompValue::Bool(false)));
    assert_eq!(p("a eq NULL"), cmp("a", CompareOp::Eq, CompValue::Null));
    assert_eq!(p(r#"a eq "tab\there \u00e9 \ud83d\ude00""#), eq_s("a", "tab\there é 😀"));
    assert_eq!(p(r#"a eq "1""#), eq_s("a", "1"));
}

#[test]
fn unquoted_values_are_strings() {
    assert_eq!(p("externalId eq abc123"), eq_s("externalId", "abc123"));
    assert_eq!(p("externalId eq 5b2c-11ef"), eq_s("externalId", "5b2c-11ef"));
    assert_eq!(p("userName eq john.doe@x.com and active eq true"), and(eq_s("userName", "john.doe@x.com"), p("active eq true")));
    assert_eq!(p("(externalId eq abc)"), eq_s("externalId", "abc"));
    assert_eq!(p("emails[value eq a@b.c]"), vp("emails", eq_s("value", "a@b.c")));
}

#[test]
fn value_paths_may_contain_logic_but_not_nested_brackets() {
    let inner = and(eq_s("type", "work"), not(or(p("primary eq false"), p("value ew \".org\""))));
    assert_eq!(p(r#"emails[type eq "work" and not (primary eq false or value ew ".org")]"#), vp("emails", inner));
    let e = err(r#"emails[type[value eq "x"] pr]"#);
    assert_eq!(e.position, 11);
    assert!(err(r#"name.givenName[value eq "x"]"#).message.contains("sub-attribute"));
    assert_eq!(p(r#"emails[type eq "work"] and userName pr"#), and(vp("emails", eq_s("type", "work")), p("userName pr")));
}

#[test]
fn entra_value_path_with_sub_attribute_comparison_is_normalised() {
    assert_eq!(p(r#"emails[type eq "work"].value eq "x@y""#), vp("emails", and(eq_s("type", "work"), eq_s("value", "x@y"))));
    assert_eq!(p(r#"emails[type eq "work"].value pr"#), vp("emails", and(eq_s("type", "work"), p("value pr"))));
    let ent = "urn:ietf:params:scim:schemas:core:2.0:User";
    let f = p(&format!(r#"{ent}:addresses[type eq "work"]"#));
    let Filter::ValuePath { attr, .. } = f else { panic!() };
    assert_eq!((attr.uri.as_deref(), attr.name.as_str()), (Some(ent), "addresses"));
}

#[test]
fn comparing_a_value_path_directly_is_an_error() {
    let e = err(r#"emails[type eq "work"] eq "x""#);
    assert_eq!(e.position, 23);
    assert!(err(r#"emails[type eq "work"] pr"#).message.contains("value path"));
    assert!(err(r#"emails[type eq "work"].value"#).message.contains("operator"));
}

#[test]
fn errors_report_byte_positions() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("   ", 3),
        ("userName xx \"a\"", 9),
        ("userName eq", 11),
        ("userName eq \"a\" \"b\"", 16),
        ("userName eq \"abc", 12),
        ("userName eq \"a\\qb\"", 14),
        ("title pr \"x\"", 9),
        ("(userName pr", 12),
        ("userName pr)", 11),
        ("emails[type pr", 14),
        ("userName pr]", 11),
        ("userName", 8),
        ("userName\"x\"", 8),
        ("a pr and", 8),
        ("a pr or or b pr", 11),
        ("9abc eq 1", 0),
        ("a.b.c eq 1", 3),
        ("\"x\" eq 1", 0),
        ("a eq )", 5),
        ("a eq (", 5),
    ];
    for (input, pos) in cases {
        let e = err(input);
        assert_eq!(e.position, *pos, "{input:?}: {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    let ok = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
    assert!(parse_filter(&ok).is_ok());
    let deep = format!("{}a pr{}", "(".repeat(MAX_FILTER_DEPTH + 1), ")".repeat(MAX_FILTER_DEPTH + 1));
    assert_eq!(err(&deep).position, MAX_FILTER_DEPTH);
    let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
    assert!(err(&nots).message.contains("nested"));
    let huge = "(".repeat(8000);
    assert!(parse_filter(&huge).is_err());
}

#[test]
fn inputs_longer_than_the_limit_are_rejected() {
    let long = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert_eq!(err(&long).position, MAX_FILTER_LEN);
    let fits = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 20));
    assert!(parse_filter(&fits).is_ok());
}

#[test]
fn multibyte_input_never_splits_characters() {
    assert_eq!(p("a eq Zoë"), eq_s("a", "Zoë"));
    assert_eq!(err("é eq 1").position, 0);
    assert_eq!(err("a eq 1 ü").position, 7);
    assert!(parse_filter("a\u{a0}eq 1").is_err());
}
