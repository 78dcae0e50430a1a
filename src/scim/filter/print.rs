//! Prints filters back as RFC 7644 §3.4.2.2 filter text that
//! [`parse_filter`](super::parse_filter) reads as the very same tree.
//!
//! The parser builds a chain `a and b and c …` as the balanced tree of
//! `balance` in `parser.rs`, so a chain prints flat only over the leaves of
//! that exact shape; every other `and`/`or` below it gets parentheses. For a
//! tree that came from the parser this never needs deeper nesting than the
//! text it was parsed from, so printing a parsed filter stays within
//! [`MAX_FILTER_DEPTH`](super::MAX_FILTER_DEPTH). Values print quoted as JSON
//! strings (RFC 8259 §7), so lenient unquoted input comes back quoted.

use std::fmt::{self, Write};

use super::ast::{CompValue, Filter};

/// The logical operator of a chain.
#[derive(Clone, Copy, PartialEq)]
enum Chain {
    And,
    Or,
}

impl Chain {
    fn of(f: &Filter) -> Option<Chain> {
        match f {
            Filter::And(..) => Some(Chain::And),
            Filter::Or(..) => Some(Chain::Or),
            _ => None,
        }
    }

    fn split(self, f: &Filter) -> Option<(&Filter, &Filter)> {
        match (self, f) {
            (Chain::And, Filter::And(l, r)) | (Chain::Or, Filter::Or(l, r)) => Some((l, r)),
            _ => None,
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Chain::And => " and ",
            Chain::Or => " or ",
        }
    }

    /// Whether a chain leaf needs parentheses: another chain of the same
    /// operator (else it would merge), or an `or` inside an `and`.
    fn needs_parens(self, leaf: &Filter) -> bool {
        match Chain::of(leaf) {
            Some(inner) => inner == self || inner == Chain::Or,
            None => false,
        }
    }
}

/// How many levels of perfect `chain` tree `f` has, counting at most `limit`.
fn perfect_depth(chain: Chain, f: &Filter, limit: u32) -> u32 {
    match chain.split(f) {
        Some((l, r)) if limit > 0 => 1 + perfect_depth(chain, l, limit - 1).min(perfect_depth(chain, r, limit - 1)),
        _ => 0,
    }
}

/// The largest `n <= cap` such that `f` is the parser's balanced tree of `n`
/// terms: `balance` pairs terms level by level, so `n >= 2` terms form
/// `op(perfect tree of 2^d, balanced tree of n - 2^d)` with `2^d < n <= 2^(d+1)`.
/// `cap` is `None` (no cap) or a power of two, which keeps the recursion
/// down the right spine logarithmic.
fn chain_len(chain: Chain, f: &Filter, cap: Option<u64>) -> u64 {
    let Some((l, r)) = chain.split(f).filter(|_| cap.is_none_or(|c| c >= 2)) else { return 1 };
    // The left half is a perfect tree of 2^d terms with 2^d < cap.
    let max_d = cap.and_then(|c| (c - 1).checked_ilog2()).unwrap_or(62).min(62);
    let d = perfect_depth(chain, l, max_d);
    let half = 1u64 << d;
    half + chain_len(chain, r, Some(half))
}

/// The `n` leaves of `f` seen as the balanced tree of `n` terms.
fn chain_leaves<'f>(chain: Chain, f: &'f Filter, n: u64, out: &mut Vec<&'f Filter>) {
    match chain.split(f) {
        Some((l, r)) if n >= 2 => {
            let half = 1u64 << (n - 1).ilog2();
            chain_leaves(chain, l, half, out);
            chain_leaves(chain, r, n - half, out);
        }
        _ => out.push(f),
    }
}

impl fmt::Display for Filter {
    /// Formats as filter text that parses back to `self` (RFC 7644 §3.4.2.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(..) | Filter::Or(..) => {
                let chain = if matches!(self, Filter::And(..)) { Chain::And } else { Chain::Or };
                let mut leaves = Vec::new();
                chain_leaves(chain, self, chain_len(chain, self, None), &mut leaves);
                for (i, leaf) in leaves.into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(chain.keyword())?;
                    }
                    if chain.needs_parens(leaf) {
                        write!(f, "({leaf})")?;
                    } else {
                        write!(f, "{leaf}")?;
                    }
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.keyword()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

impl fmt::Display for CompValue {
    /// Formats as a `compValue` (RFC 7644 §3.4.2.2): `null`, `true`,
    /// `false`, a JSON number, or a JSON string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal (RFC 8259 §7): `"` and `\` escaped,
/// control characters as short escapes or `\u00XX`, everything else as is.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::super::{parse_filter, AttrPath, CompareOp};
    use super::*;

    fn pr(name: &str) -> Filter {
        Filter::Present(AttrPath::named(name))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn round_trips(src: &str) -> String {
        let tree = parse_filter(src).unwrap();
        let printed = tree.to_string();
        assert_eq!(parse_filter(&printed), Ok(tree), "{src:?} printed as {printed:?}");
        printed
    }

    #[test]
    fn parsed_chains_print_flat_with_normalised_keywords() {
        assert_eq!(round_trips("a pr AND b pr and c pr and d pr and e pr"), "a pr and b pr and c pr and d pr and e pr");
        assert_eq!(round_trips("a pr or b pr and c pr"), "a pr or b pr and c pr");
        assert_eq!(round_trips("(a pr or b pr) and c pr"), "(a pr or b pr) and c pr");
        assert_eq!(round_trips("((a pr))"), "a pr");
    }

    #[test]
    fn chains_of_another_shape_keep_their_parentheses() {
        assert_eq!(round_trips("a pr and (b pr and c pr)"), "a pr and (b pr and c pr)");
        assert_eq!(round_trips("(a pr and b pr) and c pr and d pr"), "(a pr and b pr) and c pr and d pr");
        let right_leaning = and(pr("a"), and(pr("b"), and(pr("c"), pr("d"))));
        assert_eq!(right_leaning.to_string(), "a pr and (b pr and (c pr and d pr))");
        let mixed = or(and(pr("a"), or(pr("b"), pr("c"))), pr("d"));
        assert_eq!(parse_filter(&mixed.to_string()), Ok(mixed));
    }

    #[test]
    fn values_print_as_json_literals() {
        assert_eq!(round_trips(r#"x eq "a\"b\\c\u0001\n""#), r#"x eq "a\"b\\c\u0001\n""#);
        assert_eq!(round_trips("x eq abc"), r#"x eq "abc""#);
        assert_eq!(round_trips("x GT 1.5e3 and y eq TRUE and z ne null"), "x gt 1500.0 and y eq true and z ne null");
        assert_eq!(round_trips("x eq -7"), "x eq -7");
    }

    #[test]
    fn a_float_literal_parses_to_the_nearest_double_so_it_prints_back_unchanged() {
        // Without serde_json's `float_roundtrip` this parses one ULP off.
        let tree = parse_filter("x eq 6.333612855406149e+186").unwrap();
        let expected = serde_json::Number::from_f64(6.333612855406149e186).unwrap();
        assert_eq!(tree, Filter::Compare { path: AttrPath::named("x"), op: CompareOp::Eq, value: CompValue::Number(expected) });
        assert_eq!(round_trips("x eq 6.333612855406149e+186"), "x eq 6.333612855406149e+186");
    }

    #[test]
    fn value_paths_not_and_urns_print_in_their_own_syntax() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(
            round_trips(&format!(r#"emails[type eq "work"].value co "@x" and not ({ent}:manager.value pr)"#)),
            format!(r#"emails[type eq "work" and value co "@x"] and not ({ent}:manager.value pr)"#)
        );
        let cmp = Filter::Compare { path: AttrPath::named("not"), op: CompareOp::Eq, value: CompValue::Null };
        assert_eq!(parse_filter(&cmp.to_string()), Ok(cmp));
    }

    #[test]
    fn printing_a_parsed_filter_never_nests_deeper_than_its_source() {
        let deep = format!("{}a pr and b pr and (c pr and d pr){}", "(".repeat(31), ")".repeat(31));
        assert_eq!(round_trips(&deep), "a pr and b pr and c pr and d pr");
    }
}
