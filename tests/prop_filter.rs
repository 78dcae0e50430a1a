//! Property tests for the filter, PATCH path and attribute list parsers
//! (RFC 7644 §3.4.2.2, §3.5.2, §3.4.2.5): they never panic, reject what is
//! too long or too deep with a `FilterError`, and printed filters parse back
//! to the same tree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod prop_support;

use prop_support::{config, filter_text, filter_tree, mutated};
use proptest::prelude::*;
use rollcall::scim::filter::{parse_attr_list, parse_attr_path, parse_filter, parse_patch_path, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN};

/// Every entry point on one input; only panics (and hangs) can fail this.
fn parse_everything(s: &str) {
    let _ = parse_filter(s);
    let _ = parse_patch_path(s);
    let _ = parse_attr_path(s);
    let _ = parse_attr_list(s);
}

/// A delimiter soup: the characters and words the grammar cares about.
fn token_soup() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(vec![
        "(", ")", "[", "]", " ", "\"", "\\", "\\u", "d83d", ".", ":", ",", "and", "or", "not", "pr", "eq", "gt", "userName", "emails", "value", "urn:", "x",
        "1", "-", "e", "true", "null", "é", "😀", "\t",
    ]);
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_strings_never_panic_any_parser(s in any::<String>()) {
        parse_everything(&s);
    }

    #[test]
    fn delimiter_soup_never_panics_any_parser(s in token_soup()) {
        parse_everything(&s);
    }

    #[test]
    fn near_valid_filter_text_with_one_edit_never_panics(s in mutated(filter_text())) {
        parse_everything(&s);
        let path = format!("emails[{s}].value");
        let _ = parse_patch_path(&path);
    }

    #[test]
    fn a_printed_filter_parses_back_to_the_same_tree(tree in filter_tree()) {
        let printed = tree.to_string();
        prop_assert_eq!(parse_filter(&printed), Ok(tree), "printed as {:?}", printed);
    }

    #[test]
    fn reparsing_a_printed_parse_gives_the_same_tree(s in filter_text()) {
        let tree = parse_filter(&s);
        prop_assert!(tree.is_ok(), "generated text should parse: {:?} -> {:?}", s, tree);
        if let Ok(tree) = tree {
            let printed = tree.to_string();
            prop_assert_eq!(parse_filter(&printed), Ok(tree), "{:?} printed as {:?}", s, printed);
        }
    }

    #[test]
    fn reparsing_any_string_that_parses_gives_the_same_tree(s in prop_oneof![token_soup(), mutated(filter_text())]) {
        if let Ok(tree) = parse_filter(&s) {
            let printed = tree.to_string();
            prop_assert_eq!(parse_filter(&printed), Ok(tree), "{:?} printed as {:?}", s, printed);
        }
    }

    #[test]
    fn patch_paths_built_from_printed_filters_carry_the_same_filter(
        tree in filter_tree(),
        sub in proptest::option::of("[a-z][a-zA-Z]{0,6}"),
    ) {
        // Inside brackets a value path cannot nest (RFC 7644 §3.4.2.2).
        let nested = tree.to_string().contains('[');
        let path = format!("emails[{tree}]{}", sub.as_ref().map(|s| format!(".{s}")).unwrap_or_default());
        match parse_patch_path(&path) {
            Ok(p) => {
                prop_assert!(!nested);
                prop_assert_eq!(p.filter, Some(tree));
                prop_assert_eq!(p.sub_attr, sub);
            }
            Err(_) => prop_assert!(nested, "{:?} should parse", path),
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_a_filter_error_not_a_stack_overflow(
        depth in 0usize..400,
        (opener, close) in proptest::sample::select(vec![("(", ")"), ("not (", ")"), ("not(", " )"), ("emails[", "]"), ("x[(", ")]")]),
    ) {
        let s = format!("{}a pr{}", opener.repeat(depth), close.repeat(depth));
        let levels = depth * opener.matches(['(', '[']).count();
        let result = parse_filter(&s);
        if levels > MAX_FILTER_DEPTH || s.len() > MAX_FILTER_LEN {
            prop_assert!(result.is_err());
        }
        parse_everything(&s);
        parse_everything(&s[..s.len() / 2]);
    }

    #[test]
    fn inputs_over_the_length_limit_are_rejected_and_long_chains_below_it_parse(terms in 1usize..1200) {
        let s = vec!["userName eq \"u\""; terms].join(" or ");
        let result = parse_filter(&s);
        prop_assert_eq!(result.is_ok(), s.len() <= MAX_FILTER_LEN, "{} bytes", s.len());
        if let Ok(tree) = result {
            // Chains are balanced, so even a 500-term chain is shallow.
            prop_assert!(depth(&tree) <= 1 + terms.ilog2() as usize + 1);
            prop_assert_eq!(parse_filter(&tree.to_string()), Ok(tree));
        }
        let list = vec!["name.givenName"; terms].join(",");
        prop_assert_eq!(parse_attr_list(&list).is_ok(), list.len() <= MAX_FILTER_LEN);
    }
}

fn depth(f: &Filter) -> usize {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
        Filter::Not(a) | Filter::ValuePath { filter: a, .. } => 1 + depth(a),
        Filter::Compare { .. } | Filter::Present(_) => 1,
    }
}
