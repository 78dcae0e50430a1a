//! Recursive-descent parser for the filter grammar of RFC 7644 §3.4.2.2.
//!
//! Precedence, lowest first: `or`, `and`, `not ( … )` / `( … )` / attribute
//! expression / value path. Recursion is bounded by [`MAX_FILTER_DEPTH`]
//! and input size by [`MAX_FILTER_LEN`].

use super::ast::{validate_name, AttrPath, CompareOp, Filter, FilterError};
use super::lexer::Scanner;

/// Maximum accepted input length in bytes for filters, PATCH paths and
/// attribute lists (RFC 7644 §3.4.2.2 sets no limit; this protects the server).
pub const MAX_FILTER_LEN: usize = 8192;

/// Maximum nesting of `( … )`, `not ( … )` and `[ … ]` in a filter.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Parses a SCIM filter expression (RFC 7644 §3.4.2.2), e.g.
/// `userName eq "bjensen" and emails[type eq "work"]`.
///
/// Beyond the RFC grammar this accepts, for identity-provider
/// compatibility: unquoted values (`externalId eq abc123` → string),
/// case-insensitive `true`/`false`/`null`, and Entra ID's
/// `emails[type eq "work"].value eq "x"`, which is normalised to
/// `ValuePath { attr: emails, filter: And(type eq "work", value eq "x") }`.
/// Same-operator chains are built as balanced trees (see [`Filter`]).
/// Percent-decoding of a query parameter is the caller's job.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    check_len(input)?;
    let mut p = Parser::new(input);
    p.sc.skip_ws();
    if p.sc.at_end() {
        return Err(FilterError::new("empty filter", p.sc.pos()));
    }
    let f = p.or_expr(false)?;
    p.sc.skip_ws();
    p.expect_end()?;
    Ok(f)
}

pub(crate) fn check_len(input: &str) -> Result<(), FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError::new(format!("input longer than {MAX_FILTER_LEN} bytes"), MAX_FILTER_LEN));
    }
    Ok(())
}

/// Parser state: the scanner plus the current nesting depth.
pub(crate) struct Parser<'a> {
    pub(crate) sc: Scanner<'a>,
    depth: usize,
}

type Combine = fn(Box<Filter>, Box<Filter>) -> Filter;

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Self { sc: Scanner::new(input), depth: 0 }
    }

    /// Errors unless the scanner is at the end of input.
    pub(crate) fn expect_end(&self) -> Result<(), FilterError> {
        let pos = self.sc.pos();
        match self.sc.peek() {
            None => Ok(()),
            Some(')') => Err(FilterError::new("unbalanced ')'", pos)),
            Some(']') => Err(FilterError::new("unbalanced ']'", pos)),
            Some(_) => Err(FilterError::new("unexpected trailing input", pos)),
        }
    }

    fn or_expr(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let start = self.sc.pos();
        let mut terms = vec![self.and_expr(in_brackets)?];
        while self.keyword("or") {
            terms.push(self.and_expr(in_brackets)?);
        }
        balance(terms, Filter::Or, start)
    }

    fn and_expr(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let start = self.sc.pos();
        let mut terms = vec![self.unary(in_brackets)?];
        while self.keyword("and") {
            terms.push(self.unary(in_brackets)?);
        }
        balance(terms, Filter::And, start)
    }

    /// Consumes keyword `kw` (case-insensitive) if it is the next word.
    fn keyword(&mut self, kw: &str) -> bool {
        let save = self.sc.pos();
        self.sc.skip_ws();
        let (_, word) = self.sc.path_token();
        if word.eq_ignore_ascii_case(kw) {
            true
        } else {
            self.sc.reset(save);
            false
        }
    }

    fn unary(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        self.sc.skip_ws();
        let start = self.sc.pos();
        match self.sc.peek() {
            None => return Err(FilterError::new("unexpected end of filter; expected an expression", start)),
            Some('(') => {
                self.sc.bump();
                return self.group(start, in_brackets);
            }
            Some(_) => {}
        }
        let (tpos, tok) = self.sc.path_token();
        if tok.is_empty() {
            let c = self.sc.peek().unwrap_or(' ');
            return Err(FilterError::new(format!("unexpected '{c}'; expected an attribute path, '(' or 'not'"), tpos));
        }
        if tok.eq_ignore_ascii_case("not") && self.sc.peek() != Some('[') {
            let save = self.sc.pos();
            self.sc.skip_ws();
            if self.sc.peek() == Some('(') {
                let open = self.sc.pos();
                self.sc.bump();
                return Ok(Filter::Not(Box::new(self.group(open, in_brackets)?)));
            }
            let (wpos, word) = self.sc.path_token();
            if !(word.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(word).is_some()) {
                return Err(FilterError::new("expected '(' after 'not'", wpos));
            }
            self.sc.reset(save); // an attribute that happens to be called "not"
        }
        let path = AttrPath::from_token(tok, tpos)?;
        self.attr_expr(path, tpos, in_brackets)
    }

    /// After an opening `(` at `open`: the inner filter and the `)`.
    fn group(&mut self, open: usize, in_brackets: bool) -> Result<Filter, FilterError> {
        self.enter(open)?;
        let f = self.or_expr(in_brackets)?;
        self.sc.skip_ws();
        if !self.sc.eat(')') {
            return Err(FilterError::new(format!("expected ')' to close '(' at byte {open}"), self.sc.pos()));
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(f)
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(FilterError::new(format!("filter nested deeper than {MAX_FILTER_DEPTH} levels"), at));
        }
        Ok(())
    }

    /// After an opening `[` at `open` (RFC 7644 §3.4.2.2 `valFilter`): the
    /// inner filter, which may not itself contain value paths, and the `]`.
    pub(crate) fn bracket_body(&mut self, open: usize) -> Result<Filter, FilterError> {
        self.enter(open)?;
        let f = self.or_expr(true)?;
        self.sc.skip_ws();
        if !self.sc.eat(']') {
            return Err(FilterError::new(format!("expected ']' to close '[' at byte {open}"), self.sc.pos()));
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(f)
    }

    /// An attribute expression or value path whose path has been read.
    fn attr_expr(&mut self, path: AttrPath, tpos: usize, in_brackets: bool) -> Result<Filter, FilterError> {
        if self.sc.peek() != Some('[') {
            return self.comparison(path);
        }
        let open = self.sc.pos();
        if in_brackets {
            return Err(FilterError::new("nested value paths are not allowed", open));
        }
        if path.sub_attr.is_some() {
            return Err(FilterError::new("a value path's attribute cannot have a sub-attribute", tpos));
        }
        self.sc.bump();
        let inner = self.bracket_body(open)?;
        if self.sc.eat('.') {
            // Entra ID: `emails[type eq "work"].value eq "x"`.
            let (spos, sub) = self.sc.path_token();
            validate_name(sub, spos)?;
            let cmp = self.comparison(AttrPath::named(sub))?;
            let filter = Box::new(Filter::And(Box::new(inner), Box::new(cmp)));
            return Ok(Filter::ValuePath { attr: path, filter });
        }
        let save = self.sc.pos();
        self.sc.skip_ws();
        let (wpos, word) = self.sc.path_token();
        if word.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(word).is_some() {
            return Err(FilterError::new("a value path cannot be compared directly; use attr[filter].subAttr op value", wpos));
        }
        self.sc.reset(save);
        Ok(Filter::ValuePath { attr: path, filter: Box::new(inner) })
    }

    /// `SP "pr"` or `SP compareOp SP compValue` after an attribute path.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.sc.skip_ws();
        let (opos, word) = self.sc.path_token();
        if word.is_empty() {
            return Err(match self.sc.peek() {
                None => FilterError::new("missing operator after attribute path", opos),
                Some(c) => FilterError::new(format!("expected an operator, found '{c}'"), opos),
            });
        }
        if word.eq_ignore_ascii_case("pr") {
            self.reject_value_after_pr()?;
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_keyword(word).ok_or_else(|| FilterError::new(format!("unknown operator '{word}'"), opos))?;
        self.sc.skip_ws();
        let value = self.sc.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn reject_value_after_pr(&mut self) -> Result<(), FilterError> {
        let save = self.sc.pos();
        self.sc.skip_ws();
        let pos = self.sc.pos();
        let ok = match self.sc.peek() {
            None | Some(')' | ']') => true,
            Some(_) => {
                let (_, w) = self.sc.path_token();
                w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or")
            }
        };
        self.sc.reset(save);
        if ok {
            Ok(())
        } else {
            Err(FilterError::new("'pr' does not take a value", pos))
        }
    }
}

/// Combines terms pairwise, level by level, into a balanced tree (no recursion).
fn balance(mut terms: Vec<Filter>, combine: Combine, pos: usize) -> Result<Filter, FilterError> {
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        let mut it = terms.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => combine(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        terms = next;
    }
    terms.pop().ok_or_else(|| FilterError::new("expected an expression", pos))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
