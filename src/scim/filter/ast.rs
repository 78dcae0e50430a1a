//! Abstract syntax tree for SCIM filters (RFC 7644 §3.4.2.2) and the rules
//! for splitting an attribute path token into URI, name and sub-attribute.

use std::fmt;

/// A parsed SCIM filter expression (RFC 7644 §3.4.2.2, `FILTER` rule).
///
/// Chains of the same logical operator (`a and b and c …`) are built as a
/// balanced binary tree, which is equivalent because `and`/`or` are
/// associative, and keeps the tree shallow for long batch lookups.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `lhs and rhs` (RFC 7644 §3.4.2.2, logical operators).
    And(Box<Filter>, Box<Filter>),
    /// `lhs or rhs` (RFC 7644 §3.4.2.2, logical operators).
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)` (RFC 7644 §3.4.2.2, logical operators).
    Not(Box<Filter>),
    /// `attrPath compareOp compValue` (RFC 7644 §3.4.2.2, `attrExp`).
    Compare {
        /// The attribute being compared.
        path: AttrPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal on the right-hand side.
        value: CompValue,
    },
    /// `attrPath pr` (RFC 7644 §3.4.2.2, presence operator).
    Present(AttrPath),
    /// `emails[type eq "work"]`: `attr` has no sub_attr; `filter` is evaluated
    /// against each element of the multi-valued attribute, its paths relative
    /// to the element (e.g. `type`). RFC 7644 §3.4.2.2, `valuePath`.
    ValuePath {
        /// The multi-valued attribute whose elements are filtered.
        attr: AttrPath,
        /// The filter applied to each element.
        filter: Box<Filter>,
    },
}

/// An attribute path (RFC 7644 §3.10 and the `attrPath` rule of
/// RFC 7644 §3.4.2.2): `[URI ":"] ATTRNAME ["." subAttr]`.
///
/// Names keep the case in which they were written; attribute names are
/// case-insensitive (RFC 7643 §2.1) and the caller canonicalises them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub uri: Option<String>,
    /// The attribute name, e.g. `emails`.
    pub name: String,
    /// The sub-attribute after a `.`, e.g. `value` in `emails.value`.
    pub sub_attr: Option<String>,
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal to.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal to.
    Le,
}

/// A comparison literal (RFC 7644 §3.4.2.2, `compValue`): `false / null /
/// true / number / string`. Unquoted values that are not a keyword or a
/// JSON number are accepted leniently as strings.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string (or a lenient unquoted token).
    String(String),
}

/// A filter, path or attribute-list syntax error (reported to clients as
/// `invalidFilter` or `invalidPath`, RFC 7644 §3.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Human-readable description.
    pub message: String,
    /// Byte offset into the input where the problem was detected.
    pub position: usize,
}

impl FilterError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        Self { message: message.into(), position }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.position)
    }
}

impl std::error::Error for FilterError {}

impl CompareOp {
    /// Parses an operator keyword case-insensitively (RFC 7644 §3.4.2.2:
    /// "Attribute names and attribute operators used in filters are case
    /// insensitive"). `pr` is not a `CompareOp`.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)).map(|(_, op)| *op)
    }

    /// The lower-case keyword of this operator (RFC 7644 §3.4.2.2, Table 3).
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl AttrPath {
    /// A plain attribute path with just a name (no URI, no sub-attribute).
    pub fn named(name: impl Into<String>) -> Self {
        Self { uri: None, name: name.into(), sub_attr: None }
    }

    /// When `uri` is set and there is no sub-attribute, returns
    /// `uri + ":" + name`.
    ///
    /// The parser always splits a URN-qualified path at its last `:`
    /// (RFC 7644 §3.10), so a bare extension URN used as a PATCH path
    /// (RFC 7644 §3.5.2), e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, parses
    /// as uri `…:enterprise:2.0`, name `User`. A caller that finds this
    /// candidate among its known schema URNs should treat the path as the
    /// whole extension object.
    pub fn full_urn_candidate(&self) -> Option<String> {
        match (&self.uri, &self.sub_attr) {
            (Some(uri), None) => Some(format!("{uri}:{}", self.name)),
            _ => None,
        }
    }

    /// Splits one attribute path token (RFC 7644 §3.10): a token starting
    /// with `urn:` is split at its last `:` into URI and the rest; the rest
    /// (or the whole token) is `name ["." subAttr]`. `offset` is the byte
    /// position of the token in the original input, for errors.
    pub(crate) fn from_token(token: &str, offset: usize) -> Result<AttrPath, FilterError> {
        if token.is_empty() {
            return Err(FilterError::new("expected an attribute path", offset));
        }
        let is_urn = token.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let (uri, rest, rest_offset) = if is_urn {
            match token.rfind(':') {
                Some(i) if i > 3 => {
                    let uri = token.get(..i).unwrap_or_default();
                    if uri.contains('$') || uri.contains("::") {
                        return Err(FilterError::new(format!("invalid schema URN '{uri}'"), offset));
                    }
                    (Some(uri.to_string()), token.get(i + 1..).unwrap_or_default(), offset + i + 1)
                }
                _ => return Err(FilterError::new("URN path has no attribute name", offset)),
            }
        } else {
            if let Some(i) = token.find(':') {
                return Err(FilterError::new("unexpected ':' in attribute path", offset + i));
            }
            (None, token, offset)
        };
        let mut parts = rest.splitn(3, '.');
        let name = parts.next().unwrap_or_default();
        validate_name(name, rest_offset)?;
        let sub_attr = match parts.next() {
            Some(sub) => {
                let sub_offset = rest_offset + name.len() + 1;
                validate_name(sub, sub_offset)?;
                Some(sub.to_string())
            }
            None => None,
        };
        if parts.next().is_some() {
            let pos = rest_offset + name.len() + 1 + sub_attr.as_deref().map_or(0, str::len);
            return Err(FilterError::new("attribute path has more than one sub-attribute", pos));
        }
        Ok(AttrPath { uri, name: name.to_string(), sub_attr })
    }
}

/// Checks `ATTRNAME = ALPHA *(nameChar)` / `$ref` (RFC 7643 §2.1).
pub(crate) fn validate_name(name: &str, offset: usize) -> Result<(), FilterError> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.char_indices();
    match chars.next() {
        None => return Err(FilterError::new("expected an attribute name", offset)),
        Some((_, c)) if !c.is_ascii_alphabetic() => {
            return Err(FilterError::new(format!("invalid attribute name '{name}'"), offset));
        }
        Some(_) => {}
    }
    if let Some((i, _)) = chars.find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(FilterError::new(format!("invalid attribute name '{name}'"), offset + i));
    }
    Ok(())
}

impl fmt::Display for AttrPath {
    /// Formats as `[uri:]name[.sub_attr]` (RFC 7644 §3.10).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn plain_and_dotted_tokens_split_into_name_and_sub_attr() {
        assert_eq!(AttrPath::from_token("userName", 0).unwrap(), AttrPath::named("userName"));
        let p = AttrPath::from_token("name.givenName", 0).unwrap();
        assert_eq!((p.name.as_str(), p.sub_attr.as_deref()), ("name", Some("givenName")));
    }

    #[test]
    fn urn_tokens_split_at_the_last_colon_even_when_the_urn_contains_dots() {
        let p = AttrPath::from_token(&format!("{ENT}:manager.value"), 0).unwrap();
        assert_eq!(p.uri.as_deref(), Some(ENT));
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
        assert_eq!(p.to_string(), format!("{ENT}:manager.value"));
    }

    #[test]
    fn full_urn_candidate_joins_uri_and_name_only_without_sub_attr() {
        let p = AttrPath::from_token(ENT, 0).unwrap();
        assert_eq!(p.name, "User");
        assert_eq!(p.full_urn_candidate().as_deref(), Some(ENT));
        assert_eq!(AttrPath::from_token("name.givenName", 0).unwrap().full_urn_candidate(), None);
        assert_eq!(AttrPath::named("x").full_urn_candidate(), None);
    }

    #[test]
    fn invalid_tokens_report_the_offending_position() {
        assert_eq!(AttrPath::from_token("1abc", 5).unwrap_err().position, 5);
        assert_eq!(AttrPath::from_token("a.b.c", 0).unwrap_err().position, 3);
        assert_eq!(AttrPath::from_token("ab:c", 0).unwrap_err().position, 2);
        assert_eq!(AttrPath::from_token("name.", 0).unwrap_err().position, 5);
        assert!(AttrPath::from_token("urn:", 0).is_err());
        assert!(AttrPath::from_token("urn:a:b:", 0).is_err());
        assert!(AttrPath::from_token("", 0).is_err());
    }

    #[test]
    fn dollar_ref_is_a_valid_name_and_sub_attribute() {
        assert_eq!(AttrPath::from_token("$ref", 0).unwrap().name, "$ref");
        assert_eq!(AttrPath::from_token("manager.$ref", 0).unwrap().sub_attr.as_deref(), Some("$ref"));
        assert!(AttrPath::from_token("$reff", 0).is_err());
    }

    #[test]
    fn operators_parse_case_insensitively() {
        assert_eq!(CompareOp::from_keyword("EQ"), Some(CompareOp::Eq));
        assert_eq!(CompareOp::from_keyword("Ge"), Some(CompareOp::Ge));
        assert_eq!(CompareOp::from_keyword("pr"), None);
        assert_eq!(CompareOp::Le.keyword(), "le");
    }

    #[test]
    fn errors_display_message_and_position() {
        assert_eq!(FilterError::new("boom", 3).to_string(), "boom at byte 3");
    }
}
