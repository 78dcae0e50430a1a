//! SCIM filters (RFC 7644 §3.4.2.2) evaluated in the database, not in
//! memory: a parsed [`Filter`] becomes a WHERE fragment with bound
//! parameters (anonymous `?`, in order). Indexed columns serve the filters
//! IdPs send on every call (`userName eq`, `externalId eq`, `displayName
//! eq`, `members[value eq]`); everything else reads the stored JSON.

use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::schema::{self, AttrDef, AttrType, ResourceKind, COMMON_ATTRS};
use crate::scim::ScimError;
use crate::storage::page::LIKE_PATTERN_MAX_BYTES;
use crate::storage::SqlValue;
use crate::support::time::parse_rfc3339;

/// A piece of SQL and its parameters, in the order of its `?`s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Where the filter is evaluated: table alias (`u` or `g`) and directory.
pub struct Scope<'a> {
    pub kind: ResourceKind,
    pub alias: &'a str,
    pub directory_id: &'a str,
}

/// An attribute as SQL can read it.
enum Target {
    /// A scalar SQL expression.
    Scalar { expr: String, ty: AttrType, case_exact: bool },
    /// A multi-valued attribute stored as a JSON array; `sub` selects the
    /// sub-attribute compared (`value` when the filter names none).
    Array { array_path: String, sub: Option<&'static AttrDef>, elem: &'static [AttrDef] },
    /// Memberships: a user's `groups` or a group's `members`.
    Relation { sub: Option<String> },
}

fn bad(msg: impl Into<String>) -> ScimError {
    ScimError::invalid_filter(msg)
}

/// `$."a"."b"`: quoted labels, so URNs with `:` and `.` are safe.
fn json_path(keys: &[&str]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(&k.replace('"', ""));
        p.push('"');
    }
    p
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn resolve(scope: &Scope, path: &AttrPath) -> Result<Target, ScimError> {
    let a = scope.alias;
    let kind = scope.kind;
    let uri = path.uri.as_deref();
    let is_core = uri.is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()));
    let sub = path.sub_attr.as_deref();
    if is_core {
        let lname = path.name.to_ascii_lowercase();
        let scalar = |expr: String, ty, case_exact| Ok(Target::Scalar { expr, ty, case_exact });
        match (kind, lname.as_str(), sub.map(str::to_ascii_lowercase).as_deref()) {
            (_, "id", None) => return scalar(format!("{a}.id"), AttrType::String, true),
            (_, "externalid", None) => return scalar(format!("{a}.external_id"), AttrType::String, true),
            (_, "meta", Some("created")) => return scalar(format!("{a}.created_at"), AttrType::DateTime, true),
            (_, "meta", Some("lastmodified")) => return scalar(format!("{a}.updated_at"), AttrType::DateTime, true),
            (_, "meta", Some("resourcetype")) => return scalar(sql_str(kind.name()), AttrType::String, true),
            (_, "meta", Some("version")) => return scalar(format!("('W/\"' || {a}.version || '\"')"), AttrType::String, true),
            (_, "meta", _) => return Err(bad(format!("Filtering on {path} is not supported"))),
            (ResourceKind::User, "username", None) => return scalar(format!("{a}.user_name"), AttrType::String, false),
            (ResourceKind::User, "displayname", None) => return scalar(format!("{a}.display_name"), AttrType::String, false),
            (ResourceKind::User, "active", None) => return scalar(format!("{a}.active"), AttrType::Boolean, true),
            (ResourceKind::Group, "displayname", None) => return scalar(format!("{a}.display_name"), AttrType::String, false),
            (ResourceKind::User, "groups", s) | (ResourceKind::Group, "members", s) => return Ok(Target::Relation { sub: s.map(str::to_string) }),
            _ => {}
        }
        let def = schema::find(kind.core_attrs(), &path.name)
            .or_else(|| schema::find(COMMON_ATTRS, &path.name))
            .ok_or_else(|| bad(format!("Unknown attribute {path}")))?;
        return json_target(a, &[def.name], def, sub, path);
    }
    let uri = uri.unwrap_or_default();
    match schema::find_extension(kind, uri) {
        Some((urn, attrs)) => {
            let def = schema::find(attrs, &path.name).ok_or_else(|| bad(format!("Unknown attribute {path}")))?;
            json_target(a, &[urn, def.name], def, sub, path)
        }
        // An extension we do not know is kept verbatim; its values compare as strings.
        None if uri.to_ascii_lowercase().starts_with("urn:") => {
            let mut keys = vec![uri, path.name.as_str()];
            if let Some(s) = sub {
                keys.push(s);
            }
            Ok(Target::Scalar { expr: format!("json_extract({a}.resource, {})", sql_str(&json_path(&keys))), ty: AttrType::String, case_exact: false })
        }
        None => Err(bad(format!("Unknown schema {uri}"))),
    }
}

fn json_target(a: &str, keys: &[&str], def: &'static AttrDef, sub: Option<&str>, path: &AttrPath) -> Result<Target, ScimError> {
    if def.ty == AttrType::Complex && def.multi {
        let sub_def = match sub {
            Some(s) => Some(schema::find(def.sub, s).ok_or_else(|| bad(format!("Unknown attribute {path}")))?),
            None => None,
        };
        return Ok(Target::Array { array_path: json_path(keys), sub: sub_def, elem: def.sub });
    }
    let mut keys = keys.to_vec();
    let leaf = if def.ty == AttrType::Complex {
        match sub {
            Some(s) => {
                let sd = schema::find(def.sub, s).ok_or_else(|| bad(format!("Unknown attribute {path}")))?;
                keys.push(sd.name);
                sd
            }
            None => def,
        }
    } else if sub.is_some() {
        return Err(bad(format!("{} has no sub-attributes", def.name)));
    } else {
        def
    };
    Ok(Target::Scalar { expr: format!("json_extract({a}.resource, {})", sql_str(&json_path(&keys))), ty: leaf.ty, case_exact: leaf.case_exact })
}

/// Values a filter may bind: D1 allows 100 bound parameters per statement
/// and a list statement adds a few of its own.
pub const MAX_FILTER_PARAMS: usize = 90;

/// The WHERE fragment for `filter` (without the directory restriction).
pub fn where_clause(scope: &Scope, filter: &Filter) -> Result<Fragment, ScimError> {
    let mut f = Fragment::default();
    let mut n = 0;
    emit(scope, filter, &mut f, &mut n)?;
    if f.params.len() > MAX_FILTER_PARAMS {
        return Err(bad(format!("The filter compares too many values ({}; at most {MAX_FILTER_PARAMS})", f.params.len())));
    }
    Ok(f)
}

/// Writes `and` / `or` / `not` around the comparisons, which `leaf` writes.
/// `not` coalesces its operand: a comparison with an absent attribute is
/// NULL, and "not (title eq x)" must hold for a user without a title.
fn logic(filter: &Filter, out: &mut Fragment, leaf: &mut dyn FnMut(&Filter, &mut Fragment) -> Result<(), ScimError>) -> Result<(), ScimError> {
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            let op = if matches!(filter, Filter::And(..)) { " AND " } else { " OR " };
            out.sql.push('(');
            logic(l, out, leaf)?;
            out.sql.push_str(op);
            logic(r, out, leaf)?;
            out.sql.push(')');
            Ok(())
        }
        Filter::Not(inner) => {
            out.sql.push_str("(NOT coalesce(");
            logic(inner, out, leaf)?;
            out.sql.push_str(", 0))");
            Ok(())
        }
        other => leaf(other, out),
    }
}

fn emit(scope: &Scope, filter: &Filter, out: &mut Fragment, n: &mut usize) -> Result<(), ScimError> {
    logic(filter, out, &mut |f, out| emit_leaf(scope, f, out, n))
}

fn emit_leaf(scope: &Scope, filter: &Filter, out: &mut Fragment, n: &mut usize) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => match resolve(scope, path)? {
            Target::Scalar { expr, ty, case_exact } => compare(&expr, ty, case_exact, *op, value, out)?,
            Target::Array { array_path, sub, elem } => {
                let sub = sub.or_else(|| schema::find(elem, "value")).ok_or_else(|| bad(format!("{path} needs a sub-attribute")))?;
                let narrowed = match (op, value) {
                    (CompareOp::Eq, CompValue::String(v)) if sub.name == "value" => email_index(scope, &array_path, v, out),
                    _ => false,
                };
                let je = next_alias(n, "je");
                let ex = format!("json_extract({je}.value, {})", sql_str(&json_path(&[sub.name])));
                out.sql.push_str(&format!("EXISTS (SELECT 1 FROM json_each({}.resource, {}) {je} WHERE ", scope.alias, sql_str(&array_path)));
                compare(&ex, sub.ty, sub.case_exact, *op, value, out)?;
                out.sql.push(')');
                if narrowed {
                    out.sql.push(')');
                }
            }
            Target::Relation { sub } => relation(
                scope,
                &Filter::Compare { path: AttrPath::named(sub.clone().unwrap_or_else(|| "value".into())), op: *op, value: value.clone() },
                out,
                n,
            )?,
        },
        Filter::Present(path) => match resolve(scope, path)? {
            // Complex values read as JSON text, so one test serves both.
            Target::Scalar { expr, .. } => out.sql.push_str(&format!("({expr} IS NOT NULL AND {expr} <> '')")),
            Target::Array { array_path, sub, .. } => match sub {
                None => out.sql.push_str(&format!("(coalesce(json_array_length({}.resource, {}), 0) > 0)", scope.alias, sql_str(&array_path))),
                Some(s) => {
                    let je = next_alias(n, "je");
                    let ex = format!("json_extract({je}.value, {})", sql_str(&json_path(&[s.name])));
                    out.sql.push_str(&format!(
                        "EXISTS (SELECT 1 FROM json_each({}.resource, {}) {je} WHERE {ex} IS NOT NULL AND {ex} <> '')",
                        scope.alias,
                        sql_str(&array_path)
                    ));
                }
            },
            // `members pr` / `groups pr`: every member has a value and type.
            Target::Relation { .. } => {
                let a = scope.alias;
                let col = if scope.kind == ResourceKind::User { "user_id" } else { "group_id" };
                out.sql.push_str(&format!("EXISTS (SELECT 1 FROM memberships mp WHERE mp.{col} = {a}.id)"));
            }
        },
        Filter::ValuePath { attr, filter } => match resolve(scope, attr)? {
            Target::Array { array_path, elem, .. } => {
                let narrowed = match conjunct_value_eq(filter) {
                    Some(v) => email_index(scope, &array_path, &v, out),
                    None => false,
                };
                let je = next_alias(n, "je");
                out.sql.push_str(&format!("EXISTS (SELECT 1 FROM json_each({}.resource, {}) {je} WHERE ", scope.alias, sql_str(&array_path)));
                emit_element(&je, elem, filter, out)?;
                out.sql.push(')');
                if narrowed {
                    out.sql.push(')');
                }
            }
            Target::Relation { .. } => relation(scope, filter, out, n)?,
            Target::Scalar { .. } => return Err(bad(format!("{attr} is not multi-valued"))),
        },
        Filter::And(..) | Filter::Or(..) | Filter::Not(..) => emit(scope, filter, out, n)?,
    }
    Ok(())
}

/// Opens `(u.id IN (…user_emails…) AND ` when an email equality can use the
/// `user_emails` index (the JSON test that follows stays, for exactness).
/// Returns whether it did, so the caller closes the parenthesis.
fn email_index(scope: &Scope, array_path: &str, value: &str, out: &mut Fragment) -> bool {
    if scope.kind != ResourceKind::User || array_path != json_path(&["emails"]) {
        return false;
    }
    out.sql.push_str(&format!("({}.id IN (SELECT ue.user_id FROM user_emails ue WHERE ue.directory_id = ? AND ue.value = ? COLLATE NOCASE) AND ", scope.alias));
    out.params.push(SqlValue::Text(scope.directory_id.to_string()));
    out.params.push(SqlValue::Text(value.to_string()));
    true
}

/// `value eq "x"` when it is one of the top-level conjuncts of a value filter.
fn conjunct_value_eq(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::String(v) }
            if path.uri.is_none() && path.sub_attr.is_none() && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(v.clone())
        }
        Filter::And(l, r) => conjunct_value_eq(l).or_else(|| conjunct_value_eq(r)),
        _ => None,
    }
}

fn next_alias(n: &mut usize, base: &str) -> String {
    *n += 1;
    format!("{base}{n}")
}

/// A value filter on one element of a JSON array (`emails[type eq "work"]`).
fn emit_element(je: &str, elem: &'static [AttrDef], filter: &Filter, out: &mut Fragment) -> Result<(), ScimError> {
    logic(filter, out, &mut |f, out| element_leaf(je, elem, f, out))
}

fn element_leaf(je: &str, elem: &'static [AttrDef], filter: &Filter, out: &mut Fragment) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => {
            let def = element_attr(elem, path)?;
            let ex = format!("json_extract({je}.value, {})", sql_str(&json_path(&[def.name])));
            compare(&ex, def.ty, def.case_exact, *op, value, out)?;
        }
        Filter::Present(path) => {
            let def = element_attr(elem, path)?;
            let ex = format!("json_extract({je}.value, {})", sql_str(&json_path(&[def.name])));
            out.sql.push_str(&format!("({ex} IS NOT NULL AND {ex} <> '')"));
        }
        Filter::ValuePath { .. } => return Err(bad("Value filters cannot be nested")),
        Filter::And(..) | Filter::Or(..) | Filter::Not(..) => emit_element(je, elem, filter, out)?,
    }
    Ok(())
}

fn element_attr(elem: &'static [AttrDef], path: &AttrPath) -> Result<&'static AttrDef, ScimError> {
    if path.uri.is_some() || path.sub_attr.is_some() {
        return Err(bad(format!("{path} is not a sub-attribute")));
    }
    schema::find(elem, &path.name).ok_or_else(|| bad(format!("Unknown sub-attribute {}", path.name)))
}

/// Memberships as a relation: `members[value eq "u"]` on groups,
/// `groups.value eq "g"` on users. Written as `id IN (SELECT …)` so SQLite
/// drives the lookup from the membership indexes.
fn relation(scope: &Scope, filter: &Filter, out: &mut Fragment, n: &mut usize) -> Result<(), ScimError> {
    let a = scope.alias;
    let mx = next_alias(n, "mx");
    let (own, other, other_display) = match scope.kind {
        ResourceKind::Group => ("group_id", "user_id", format!("(SELECT coalesce(du.display_name, du.user_name) FROM users du WHERE du.id = {mx}.user_id)")),
        ResourceKind::User => ("user_id", "group_id", format!("(SELECT dg.display_name FROM groups dg WHERE dg.id = {mx}.group_id)")),
    };
    // `+` keeps the directory test off the index choice, so the lookup runs
    // on the membership keys (group, user) the filter names.
    out.sql.push_str(&format!("{a}.id IN (SELECT {mx}.{own} FROM memberships {mx} WHERE +{mx}.directory_id = ? AND "));
    out.params.push(SqlValue::Text(scope.directory_id.to_string()));
    relation_cond(&mx, other, &other_display, filter, out)?;
    out.sql.push(')');
    Ok(())
}

fn relation_cond(mx: &str, other: &str, display: &str, filter: &Filter, out: &mut Fragment) -> Result<(), ScimError> {
    logic(filter, out, &mut |f, out| relation_leaf(mx, other, display, f, out))
}

fn relation_leaf(mx: &str, other: &str, display: &str, filter: &Filter, out: &mut Fragment) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => {
            let (expr, exact) = match path.name.to_ascii_lowercase().as_str() {
                "value" => (format!("{mx}.{other}"), true),
                "display" => (display.to_string(), false),
                "type" => (if other == "user_id" { "'User'".to_string() } else { "'direct'".to_string() }, false),
                _ => return Err(bad(format!("Filtering on {path} is not supported"))),
            };
            compare(&expr, AttrType::String, exact, *op, value, out)?;
        }
        Filter::Present(_) => out.sql.push('1'),
        Filter::ValuePath { .. } => return Err(bad("Value filters cannot be nested")),
        Filter::And(..) | Filter::Or(..) | Filter::Not(..) => relation_cond(mx, other, display, filter, out)?,
    }
    Ok(())
}

/// One comparison, typed by the attribute (RFC 7644 §3.4.2.2 table 3).
/// A comparison with an absent attribute is NULL, which and/or treat as
/// false; only `not` needs a definite answer and coalesces its operand.
/// Keeping comparisons bare lets SQLite use the indexes (`coalesce(x = ?)`
/// would scan the directory).
fn compare(expr: &str, ty: AttrType, case_exact: bool, op: CompareOp, value: &CompValue, out: &mut Fragment) -> Result<(), ScimError> {
    use CompareOp::*;
    if let CompValue::Null = value {
        let sql = match op {
            Eq => format!("({expr} IS NULL)"),
            Ne => format!("({expr} IS NOT NULL)"),
            _ => return Err(bad(format!("{} null is not a valid comparison", op.keyword()))),
        };
        out.sql.push_str(&sql);
        return Ok(());
    }
    let param = typed_value(ty, op, value)?;
    let collate = if case_exact || !matches!(ty, AttrType::String | AttrType::Reference) { "" } else { " COLLATE NOCASE" };
    let sql = match op {
        Eq => format!("{expr} = ?{collate}"),
        Ne => format!("({expr} IS NULL OR {expr} <> ?{collate})"),
        Gt => format!("{expr} > ?{collate}"),
        Ge => format!("{expr} >= ?{collate}"),
        Lt => format!("{expr} < ?{collate}"),
        Le => format!("{expr} <= ?{collate}"),
        Co | Sw | Ew => {
            let s = match &param {
                SqlValue::Text(s) => s.clone(),
                _ => return Err(bad(format!("{} needs a string", op.keyword()))),
            };
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let pattern = match op {
                Co => format!("%{escaped}%"),
                Sw => format!("{escaped}%"),
                _ => format!("%{escaped}"),
            };
            // LIKE folds ASCII case (and may use a NOCASE index for `sw`),
            // but D1 refuses a pattern past its limit: a longer value is
            // compared as lower-cased (ASCII, as LIKE does) text instead.
            if case_exact || pattern.len() > LIKE_PATTERN_MAX_BYTES {
                let (text, value) = if case_exact { (expr.to_string(), "?") } else { (format!("lower({expr})"), "lower(?)") };
                let sql = match op {
                    Co => format!("instr({text}, {value}) > 0"),
                    Sw => format!("substr({text}, 1, length(?)) = {value}"),
                    _ => format!("substr({text}, -length(?)) = {value}"),
                };
                out.params.push(SqlValue::Text(s.clone()));
                if op != Co {
                    out.params.push(SqlValue::Text(s));
                }
                out.sql.push_str(&sql);
                return Ok(());
            }
            out.params.push(SqlValue::Text(pattern));
            out.sql.push_str(&format!("{expr} LIKE ? ESCAPE '\\'"));
            return Ok(());
        }
    };
    out.params.push(param);
    out.sql.push_str(&sql);
    Ok(())
}

fn typed_value(ty: AttrType, op: CompareOp, value: &CompValue) -> Result<SqlValue, ScimError> {
    match ty {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(bad(format!("{} is not defined for booleans", op.keyword())));
            }
            match value {
                CompValue::Bool(b) => Ok(SqlValue::Int(i64::from(*b))),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => Ok(SqlValue::Int(1)),
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => Ok(SqlValue::Int(0)),
                _ => Err(bad("A boolean attribute compares with true or false")),
            }
        }
        AttrType::Integer | AttrType::Decimal => match value {
            CompValue::Number(n) => Ok(n.as_i64().map(SqlValue::Int).unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)))),
            _ => Err(bad("A numeric attribute compares with a number")),
        },
        AttrType::DateTime => match value {
            CompValue::String(s) => parse_rfc3339(s).map(|m| SqlValue::Text(m.to_rfc3339())).ok_or_else(|| bad(format!("{s} is not a dateTime"))),
            _ => Err(bad("A dateTime attribute compares with a string")),
        },
        AttrType::Complex => Err(bad("A complex attribute needs a sub-attribute to compare")),
        _ => Ok(SqlValue::Text(match value {
            CompValue::String(s) => s.clone(),
            CompValue::Number(n) => n.to_string(),
            CompValue::Bool(b) => b.to_string(),
            CompValue::Null => String::new(),
        })),
    }
}

/// The ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3): multi-valued
/// attributes sort by their primary (else first) value; strings that compare
/// case-insensitively also sort so.
pub fn order_expr(scope: &Scope, path: &AttrPath) -> Result<String, ScimError> {
    let invalid = |e: ScimError| ScimError::invalid_value(format!("sortBy: {}", e.detail));
    match resolve(scope, path).map_err(invalid)? {
        Target::Scalar { expr, ty, case_exact } => {
            Ok(if !case_exact && matches!(ty, AttrType::String | AttrType::Reference) { format!("{expr} COLLATE NOCASE") } else { expr })
        }
        Target::Array { array_path, sub, elem } => {
            let sub = sub.or_else(|| schema::find(elem, "value")).ok_or_else(|| ScimError::invalid_value("sortBy needs a sub-attribute"))?;
            Ok(format!(
                "(SELECT json_extract(js.value, {}) FROM json_each({}.resource, {}) js ORDER BY coalesce(json_extract(js.value, '$.\"primary\"'), 0) DESC, js.key LIMIT 1) COLLATE NOCASE",
                sql_str(&json_path(&[sub.name])),
                scope.alias,
                sql_str(&array_path)
            ))
        }
        Target::Relation { .. } => Err(ScimError::invalid_value(format!("sortBy {path} is not supported"))),
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
