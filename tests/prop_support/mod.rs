//! Generators shared by the property tests: realistic SCIM attribute names,
//! filter trees, near-valid filter text and JSON values.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rollcall::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use serde_json::{Map, Number, Value};

pub const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Deterministic and modest: a fixed seed, no failure files, `cases` cases.
pub fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, rng_seed: RngSeed::Fixed(0x5c1a_2026), max_shrink_iters: 2048, ..Config::default() }
}

/// Attribute and sub-attribute names IdPs send, plus keyword look-alikes.
pub const NAMES: &[&str] = &[
    "userName",
    "displayName",
    "active",
    "name",
    "givenName",
    "familyName",
    "emails",
    "value",
    "type",
    "primary",
    "members",
    "display",
    "externalId",
    "title",
    "manager",
    "employeeNumber",
    "department",
    "phoneNumbers",
    "addresses",
    "locality",
    "roles",
    "groups",
    "id",
    "meta",
    "password",
    "$ref",
    "not",
    "and",
    "or",
    "pr",
    "eq",
    "USERNAME",
    "Emails",
    "x-custom_1",
];

/// Schema URNs: core, enterprise, an unknown extension and odd but valid ones.
pub const URNS: &[&str] = &[CORE_USER, CORE_GROUP, ENT, "urn:acme:ext:2.0:User", "urn:x", "URN:ietf:params:scim:2.0"];

pub fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(NAMES).prop_map(str::to_string),
        1 => "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
    ]
}

pub fn urn() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(URNS).prop_map(str::to_string),
        1 => "urn:[a-z0-9]{1,6}(:[a-zA-Z0-9.-]{1,6}){0,3}",
    ]
}

/// A valid attribute path; `sub` allows a sub-attribute.
pub fn attr_path(sub: bool) -> impl Strategy<Value = AttrPath> {
    let sub_attr = if sub { proptest::option::weighted(0.4, name()).boxed() } else { Just(None).boxed() };
    (proptest::option::weighted(0.25, urn()), name(), sub_attr).prop_map(|(uri, name, sub_attr)| AttrPath { uri, name, sub_attr })
}

pub fn compare_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

pub fn number() -> impl Strategy<Value = Number> {
    prop_oneof![any::<u64>().prop_map(Number::from), any::<i64>().prop_map(Number::from), any::<f64>().prop_filter_map("finite", Number::from_f64),]
}

/// Any string, biased towards characters that need escaping or are multi-byte.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9@._ -]{0,12}",
        2 => "[\"\\\\/\\u{0}-\\u{1f}é中😀a ]{0,8}",
        1 => any::<String>(),
    ]
}

pub fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        1 => Just(CompValue::Null),
        1 => any::<bool>().prop_map(CompValue::Bool),
        2 => number().prop_map(CompValue::Number),
        4 => text().prop_map(CompValue::String),
    ]
}

/// A filter tree the parser can produce: value paths never nest, and their
/// attribute has no sub-attribute (RFC 7644 §3.4.2.2 `valuePath`).
pub fn filter_tree() -> impl Strategy<Value = Filter> {
    let value_path = (attr_path(false), bracket_filter()).prop_map(|(attr, filter)| Filter::ValuePath { attr, filter: Box::new(filter) });
    logic(prop_oneof![3 => inner_leaf(), 1 => value_path].boxed())
}

/// A filter as allowed inside `attr[…]`: no value paths of its own.
pub fn bracket_filter() -> BoxedStrategy<Filter> {
    logic(inner_leaf())
}

fn inner_leaf() -> BoxedStrategy<Filter> {
    prop_oneof![
        3 => (attr_path(true), compare_op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => attr_path(true).prop_map(Filter::Present),
    ]
    .boxed()
}

/// `and`, `or` and `not` over `leaf`, at most six levels deep.
fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

fn ws() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![" ", " ", " ", "  ", "\t", "\n "])
}

fn keyword(word: &'static str) -> impl Strategy<Value = String> {
    proptest::sample::select(vec![word.to_string(), word.to_uppercase(), format!("{}{}", word[..1].to_uppercase(), &word[1..])])
}

/// Filter text as IdPs write it, not as the printer does: odd case and
/// spacing, unquoted values, escapes, redundant parentheses, Entra's
/// `emails[type eq "work"].value eq "x"`.
pub fn filter_text() -> impl Strategy<Value = String> {
    let op = proptest::sample::select(vec!["eq", "EQ", "Ne", "co", "sw", "ew", "gt", "GE", "lt", "le"]);
    let value = prop_oneof![
        comp_value().prop_map(|v| v.to_string()).boxed(),
        "[a-zA-Z0-9@._-]{1,10}",
        proptest::sample::select(vec!["True", "NULL", "-0", "1e400", "01", "\"\\u00e9\\/\"", "\"\\ud83d\\ude00\""]).prop_map(str::to_string),
    ];
    let path = attr_path(true).prop_map(|p| p.to_string()).boxed();
    let cmp = (path.clone(), ws(), op.clone(), ws(), value.clone()).prop_map(|(p, a, o, b, v)| format!("{p}{a}{o}{b}{v}"));
    let pr = (path, keyword("pr")).prop_map(|(p, k)| format!("{p} {k}"));
    let leaf = prop_oneof![3 => cmp, 1 => pr].boxed();
    let in_brackets = text_logic(leaf.clone());
    let vpath = (attr_path(false), in_brackets.clone()).prop_map(|(a, f)| format!("{a}[{f}]"));
    let entra = (attr_path(false), in_brackets, name(), op, value).prop_map(|(a, f, s, o, v)| format!("{a}[{f}].{s} {o} {v}"));
    text_logic(prop_oneof![4 => leaf, 1 => vpath, 1 => entra].boxed())
}

fn text_logic(leaf: BoxedStrategy<String>) -> BoxedStrategy<String> {
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), ws(), keyword("and"), ws(), inner.clone()).prop_map(|(a, s, k, t, b)| format!("{a}{s}{k}{t}{b}")),
            (inner.clone(), ws(), keyword("or"), ws(), inner.clone()).prop_map(|(a, s, k, t, b)| format!("{a}{s}{k}{t}{b}")),
            (keyword("not"), ws(), inner.clone()).prop_map(|(k, s, f)| format!("{k}{s}({f})")),
            (inner, ws()).prop_map(|(f, s)| format!("({s}{f}{s})")),
        ]
    })
    .boxed()
}

/// Near-valid text broken by one edit: a cut, an inserted delimiter, or a
/// doubled slice, each at a char boundary.
pub fn mutated(text: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let noise = proptest::sample::select(vec!["(", ")", "[", "]", "\"", "\\", ".", ":", " ", "é", "\u{0}", "not ", " and", "urn:"]);
    (text, any::<proptest::sample::Index>(), any::<proptest::sample::Index>(), noise, 0..3u8).prop_map(|(s, i, j, n, how)| {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        let (a, b) = (*i.get(&bounds), *j.get(&bounds));
        let (a, b) = (a.min(b), a.max(b));
        match how {
            0 => s[..a].to_string(),
            1 => format!("{}{n}{}", &s[..a], &s[a..]),
            _ => format!("{}{}", &s[..b], &s[a..]),
        }
    })
}

/// Strings a SCIM client could send in a PATCH `value` or a resource.
pub fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => text(),
        1 => proptest::sample::select(vec!["True", "false", "work", "home", "u1", " u2 ", "", "Group", "User", "42"]).prop_map(str::to_string),
    ]
}

/// Object keys: attribute names, dotted and URN-qualified ones, and noise.
pub fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => name(),
        1 => (name(), name()).prop_map(|(a, b)| format!("{a}.{b}")),
        1 => (urn(), name()).prop_map(|(u, n)| format!("{u}:{n}")),
        1 => urn(),
        1 => proptest::sample::select(vec!["schemas", "Operations", "op", "path", "managerId", "$ref", "primary"]).prop_map(str::to_string),
        1 => text(),
    ]
}

/// Any JSON value at most `depth` levels deep, keyed like SCIM resources.
pub fn json_value(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number().prop_map(Value::Number), json_string().prop_map(Value::String),];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// `{key: value, …}` with realistic keys.
pub fn json_object(depth: u32) -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((json_key(), json_value(depth)), 0..10).prop_map(|kv| kv.into_iter().collect())
}
