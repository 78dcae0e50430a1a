//! In-memory evaluation of filters against JSON resources or elements
//! (RFC 7644 §3.4.2.2 semantics; also used for PATCH value filters,
//! RFC 7644 §3.5.2).

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};

/// Evaluates `filter` against one JSON object: a whole resource, or one
/// element of a multi-valued attribute for a PATCH value filter such as
/// `emails[type eq "work" and primary eq true]` (RFC 7644 §3.5.2).
///
/// Semantics follow RFC 7644 §3.4.2.2:
/// - attribute names (and `$ref`) are looked up case-insensitively
///   (RFC 7643 §2.1); a URN-qualified path is looked up inside the object
///   keyed by its URN when present, otherwise at the top level (core schema
///   URNs);
/// - if the attribute is multi-valued, a comparison is true when any value
///   satisfies it; complex values without a sub-attribute compare their
///   `value` sub-attribute (e.g. `emails eq "a@b.c"`);
/// - strings compare case-insensitively (Unicode lower-casing) unless
///   `case_exact` returns true for the path (RFC 7643 §2.2 `caseExact`);
///   `gt`/`ge`/`lt`/`le` order strings lexicographically and numbers
///   numerically; a number filter value against a string attribute compares
///   as strings; booleans support `eq`/`ne` and match the strings
///   `"true"`/`"false"` in any case;
/// - `eq null` is true when the attribute is absent or null, `ne null` when
///   it is present; `ne` with any other value is also true when absent;
/// - `pr` requires a value that is not null, `""`, `[]` or `{}`;
/// - a `ValuePath` is true when its inner filter matches any element.
///
/// `case_exact` receives the path as written, except inside a value path,
/// where a plain inner path is qualified by its parent (`type` inside
/// `emails[...]` is passed as `emails.type`). This function never panics.
pub fn matches(filter: &Filter, element: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    eval(filter, element, None, case_exact)
}

fn eval(filter: &Filter, el: &Value, parent: Option<&AttrPath>, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, el, parent, case_exact) && eval(b, el, parent, case_exact),
        Filter::Or(a, b) => eval(a, el, parent, case_exact) || eval(b, el, parent, case_exact),
        Filter::Not(inner) => !eval(inner, el, parent, case_exact),
        Filter::Present(path) => raw_values(el, path).into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let exact = case_exact(&qualify(parent, path));
            let candidates: Vec<&Value> = raw_values(el, path).into_iter().filter_map(comparable).collect();
            compare_all(&candidates, *op, value, exact)
        }
        Filter::ValuePath { attr, filter } => match lookup(el, attr) {
            Some(Value::Array(items)) => items.iter().any(|item| eval(filter, item, Some(attr), case_exact)),
            Some(obj @ Value::Object(_)) => eval(filter, obj, Some(attr), case_exact),
            _ => false,
        },
    }
}

/// `type` inside `emails[...]` becomes `emails.type` for `case_exact`.
fn qualify(parent: Option<&AttrPath>, path: &AttrPath) -> AttrPath {
    match parent {
        Some(p) if path.uri.is_none() && path.sub_attr.is_none() => AttrPath { uri: p.uri.clone(), name: p.name.clone(), sub_attr: Some(path.name.clone()) },
        _ => path.clone(),
    }
}

/// Case-insensitive key lookup, preferring an exact match.
fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The value of `path.uri:path.name` in `el` (ignoring the sub-attribute).
fn lookup<'v>(el: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let obj = el.as_object()?;
    if let Some(ext) = path.uri.as_deref().and_then(|uri| get_ci(obj, uri)) {
        return ext.as_object().and_then(|ext| get_ci(ext, &path.name));
    }
    get_ci(obj, &path.name)
}

/// All values addressed by `path`, with multi-valued attributes flattened.
fn raw_values<'v>(el: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(v) = lookup(el, path) else { return out };
    let mut push = |v: &'v Value| match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    };
    match (&path.sub_attr, v) {
        (None, v) => push(v),
        (Some(sub), Value::Array(items)) => {
            items.iter().filter_map(Value::as_object).filter_map(|o| get_ci(o, sub)).for_each(push);
        }
        (Some(sub), Value::Object(o)) => {
            if let Some(sv) = get_ci(o, sub) {
                push(sv);
            }
        }
        (Some(_), _) => {}
    }
    out
}

/// Complex values compare by their `value` sub-attribute; nulls are absent.
fn comparable(v: &Value) -> Option<&Value> {
    match v {
        Value::Null => None,
        Value::Object(o) => get_ci(o, "value").filter(|v| !v.is_null()),
        other => Some(other),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_all(candidates: &[&Value], op: CompareOp, value: &CompValue, exact: bool) -> bool {
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq => candidates.is_empty(),
            CompareOp::Ne => !candidates.is_empty(),
            _ => false,
        };
    }
    if candidates.is_empty() {
        return op == CompareOp::Ne;
    }
    candidates.iter().any(|c| compare_one(c, op, value, exact))
}

fn compare_one(attr: &Value, op: CompareOp, value: &CompValue, exact: bool) -> bool {
    match (attr, value) {
        (Value::String(a), CompValue::String(b)) => str_op(a, b, op, exact),
        (Value::String(a), CompValue::Number(b)) => str_op(a, &b.to_string(), op, exact),
        (Value::String(a), CompValue::Bool(b)) => bool_op(parse_bool(a), *b, op),
        (Value::Number(a), CompValue::Number(b)) => num_op(a, b, op),
        (Value::Number(a), CompValue::String(b)) => match serde_json::from_str::<Number>(b.trim()) {
            Ok(b) => num_op(a, &b, op),
            Err(_) => str_op(&a.to_string(), b, op, exact),
        },
        (Value::Bool(a), CompValue::Bool(b)) => bool_op(Some(*a), *b, op),
        (Value::Bool(a), CompValue::String(b)) => bool_op(parse_bool(b), *a, op),
        _ => op == CompareOp::Ne,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn bool_op(a: Option<bool>, b: bool, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => a == Some(b),
        CompareOp::Ne => a != Some(b),
        _ => false,
    }
}

fn str_op(a: &str, b: &str, op: CompareOp, exact: bool) -> bool {
    let (a, b) = if exact { (a.to_string(), b.to_string()) } else { (a.to_lowercase(), b.to_lowercase()) };
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn num_op(a: &Number, b: &Number, op: CompareOp) -> bool {
    let ord = cmp_numbers(a, b);
    match op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord != Some(Ordering::Equal),
        CompareOp::Gt => ord == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => ord == Some(Ordering::Less),
        CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => str_op(&a.to_string(), &b.to_string(), op, true),
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
