//! PATCH paths (RFC 7644 §3.5.2) and attribute lists (RFC 7644 §3.4.2.5).

use super::ast::{validate_name, AttrPath, Filter, FilterError};
use super::parser::{check_len, Parser};

/// A PATCH operation path (RFC 7644 §3.5.2: `PATH = attrPath / valuePath
/// [subAttr]`).
///
/// - `name.givenName`: `attr.sub_attr = Some("givenName")`, no filter.
/// - `emails[type eq "work"].value`: `attr` is `emails` (never with a
///   sub-attribute), `filter` is `type eq "work"`, `sub_attr = Some("value")`.
///
/// For a bare extension URN see [`AttrPath::full_urn_candidate`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The targeted attribute.
    pub attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, in the value-filter form.
    pub sub_attr: Option<String>,
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2), e.g. `members[value eq
/// "2819c223"]` or `addresses[type eq "work"].locality`. Surrounding
/// whitespace is ignored; error positions are byte offsets in `input`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    check_len(input)?;
    let mut p = Parser::new(input);
    p.sc.skip_ws();
    let (tpos, tok) = p.sc.path_token();
    if tok.is_empty() {
        let msg = if p.sc.at_end() { "empty path" } else { "expected an attribute path" };
        return Err(FilterError::new(msg, tpos));
    }
    let attr = AttrPath::from_token(tok, tpos)?;
    let open = p.sc.pos();
    let mut filter = None;
    let mut sub_attr = None;
    if p.sc.eat('[') {
        if attr.sub_attr.is_some() {
            return Err(FilterError::new("a value path's attribute cannot have a sub-attribute", tpos));
        }
        filter = Some(p.bracket_body(open)?);
        if p.sc.eat('.') {
            let (spos, sub) = p.sc.path_token();
            validate_name(sub, spos)?;
            sub_attr = Some(sub.to_string());
        }
    }
    p.sc.skip_ws();
    p.expect_end()?;
    Ok(PatchPath { attr, filter, sub_attr })
}

/// Parses one attribute path (RFC 7644 §3.10), as used by `sortBy`
/// (RFC 7644 §3.4.2.3) and in `attributes` lists (RFC 7644 §3.4.2.5), e.g.
/// `name.familyName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    check_len(input)?;
    let mut p = Parser::new(input);
    p.sc.skip_ws();
    let (tpos, tok) = p.sc.path_token();
    if tok.is_empty() && p.sc.at_end() {
        return Err(FilterError::new("empty attribute path", tpos));
    }
    let path = AttrPath::from_token(tok, tpos)?;
    p.sc.skip_ws();
    p.expect_end()?;
    Ok(path)
}

/// Parses the comma-separated `attributes` / `excludedAttributes` query
/// parameters (RFC 7644 §3.4.2.5). Whitespace around items is tolerated and
/// empty items are skipped, so `""` yields an empty list.
pub fn parse_attr_list(input: &str) -> Result<Vec<AttrPath>, FilterError> {
    check_len(input)?;
    let mut out = Vec::new();
    let mut offset = 0;
    for item in input.split(',') {
        if !item.trim().is_empty() {
            let path = parse_attr_path(item).map_err(|e| FilterError::new(e.message, e.position + offset))?;
            out.push(path);
        }
        offset += item.len() + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{CompValue, CompareOp};

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn eq(name: &str, v: &str) -> Filter {
        Filter::Compare { path: AttrPath::named(name), op: CompareOp::Eq, value: CompValue::String(v.into()) }
    }

    fn sub(name: &str, s: &str) -> AttrPath {
        AttrPath { uri: None, name: name.into(), sub_attr: Some(s.into()) }
    }

    #[test]
    fn simple_and_dotted_paths_have_no_filter() {
        let p = parse_patch_path("name").unwrap();
        assert_eq!(p, PatchPath { attr: AttrPath::named("name"), filter: None, sub_attr: None });
        let p = parse_patch_path("  name.givenName\t").unwrap();
        assert_eq!(p, PatchPath { attr: sub("name", "givenName"), filter: None, sub_attr: None });
    }

    #[test]
    fn enterprise_urn_paths_split_at_the_last_colon() {
        let p = parse_patch_path(&format!("{ENT}:employeeNumber")).unwrap();
        assert_eq!(p.attr.uri.as_deref(), Some(ENT));
        assert_eq!(p.attr.name, "employeeNumber");
        let p = parse_patch_path(&format!("{ENT}:manager.value")).unwrap();
        assert_eq!((p.attr.name.as_str(), p.attr.sub_attr.as_deref()), ("manager", Some("value")));
    }

    #[test]
    fn a_bare_extension_urn_is_exposed_as_a_full_urn_candidate() {
        let p = parse_patch_path(ENT).unwrap();
        assert_eq!(p.attr.full_urn_candidate().as_deref(), Some(ENT));
        assert_eq!(p.filter, None);
    }

    #[test]
    fn value_filter_paths_carry_the_filter_and_trailing_sub_attribute() {
        let p = parse_patch_path(r#"emails[type eq "work"]"#).unwrap();
        assert_eq!(p, PatchPath { attr: AttrPath::named("emails"), filter: Some(eq("type", "work")), sub_attr: None });
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
        assert_eq!(p.attr.sub_attr, None);
        let p = parse_patch_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
        assert_eq!(p.filter, Some(eq("value", "2819c223-7f76-453a-919d-413861904646")));
        let p = parse_patch_path(r#"addresses[type eq "work"].locality"#).unwrap();
        assert_eq!((p.attr.name.as_str(), p.sub_attr.as_deref()), ("addresses", Some("locality")));
    }

    #[test]
    fn value_filters_in_paths_may_combine_conditions() {
        let p = parse_patch_path(r#"emails[type eq "work" and primary eq true]"#).unwrap();
        assert!(matches!(p.filter, Some(Filter::And(_, _))));
        let p = parse_patch_path(&format!(r#"{ENT}:addresses[type eq "work"]"#)).unwrap();
        assert_eq!(p.attr.uri.as_deref(), Some(ENT));
    }

    #[test]
    fn malformed_patch_paths_are_errors() {
        for bad in [
            "",
            "   ",
            "emails[",
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]."#,
            r#"emails[type eq "work"].value.x"#,
            r#"emails[type eq "work"] x"#,
            r#"name.givenName[type eq "x"]"#,
            r#"emails[type[value eq "x"]]"#,
            "name given",
            "1name",
            "a.b.c",
            "emails]",
            r#"emails[type eq "work"]]"#,
        ] {
            assert!(parse_patch_path(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(parse_patch_path("name given").unwrap_err().position, 5);
    }

    #[test]
    fn attr_path_accepts_one_path_only() {
        assert_eq!(parse_attr_path(" name.familyName ").unwrap(), sub("name", "familyName"));
        assert_eq!(parse_attr_path(&format!("{ENT}:manager.value")).unwrap().uri.as_deref(), Some(ENT));
        assert!(parse_attr_path("").is_err());
        assert!(parse_attr_path("a b").is_err());
        assert!(parse_attr_path(r#"emails[type eq "x"]"#).is_err());
    }

    #[test]
    fn attr_lists_split_on_commas_and_skip_empty_items() {
        let l = parse_attr_list(" userName, name.givenName,,emails ,").unwrap();
        assert_eq!(l, vec![AttrPath::named("userName"), sub("name", "givenName"), AttrPath::named("emails")]);
        assert_eq!(parse_attr_list("").unwrap(), vec![]);
        let l = parse_attr_list(&format!("{ENT}:employeeNumber,displayName")).unwrap();
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn attr_list_errors_point_into_the_whole_input() {
        let e = parse_attr_list("userName,  9bad").unwrap_err();
        assert_eq!(e.position, 11);
    }

    #[test]
    fn overlong_paths_and_lists_are_rejected() {
        let long = "a".repeat(9000);
        assert!(parse_patch_path(&long).is_err());
        assert!(parse_attr_path(&long).is_err());
        assert!(parse_attr_list(&long).is_err());
    }
}
