//! A context-driven scanner over filter text (RFC 7644 §3.4.2.2).
//!
//! The filter grammar is context-sensitive in one spot: an unquoted value
//! (accepted leniently, because Entra ID sends `externalId eq abc123`) may
//! contain characters that elsewhere delimit tokens. So instead of a separate
//! token stream, the parser asks the scanner for the kind of token it expects.
//! Every access is bounds-checked; nothing here can panic.

use super::ast::{CompValue, FilterError};

/// Cursor over the input; `pos` is always a char boundary.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    src: &'a str,
    pos: usize,
}

/// Characters that may appear in an attribute path token (RFC 7644 §3.10:
/// name characters, `.` for sub-attributes, `:` in URNs, `$` in `$ref`).
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Rewinds (or advances) to a position previously returned by `pos`.
    pub(crate) fn reset(&mut self, pos: usize) {
        if self.src.is_char_boundary(pos) {
            self.pos = pos;
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes `c` if it is next.
    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Skips whitespace; returns whether any was skipped.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos != start
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> (usize, &'a str) {
        let start = self.pos;
        let len = self.rest().find(|c: char| !pred(c)).unwrap_or(self.rest().len());
        self.pos += len;
        (start, self.src.get(start..self.pos).unwrap_or_default())
    }

    /// Reads a maximal run of attribute-path characters (may be empty). Also
    /// used for keywords (`and`, `or`, `not`) and operators, which must
    /// therefore be delimited by something that is not a path character.
    pub(crate) fn path_token(&mut self) -> (usize, &'a str) {
        self.take_while(is_path_char)
    }

    /// Reads a comparison value (RFC 7644 §3.4.2.2 `compValue`): a JSON
    /// string, `true`/`false`/`null` (any case), a JSON number, or —
    /// leniently — any other unquoted run up to whitespace, `)` or `]`,
    /// which becomes a string.
    pub(crate) fn value(&mut self) -> Result<CompValue, FilterError> {
        match self.peek() {
            Some('"') => self.json_string().map(CompValue::String),
            None | Some(')' | ']') => Err(FilterError::new("missing comparison value", self.pos)),
            Some(c @ ('(' | '[')) => Err(FilterError::new(format!("expected a value, found '{c}'"), self.pos)),
            Some(_) => {
                let (_, tok) = self.take_while(|c| !(is_ws(c) || c == ')' || c == ']'));
                Ok(classify_unquoted(tok))
            }
        }
    }

    /// Reads a JSON string literal (RFC 8259 §7) starting at `"`.
    pub(crate) fn json_string(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        if !self.eat('"') {
            return Err(FilterError::new("expected '\"'", start));
        }
        let mut out = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(FilterError::new("unterminated string", start)),
                Some('"') => return Ok(out),
                Some('\\') => {
                    let c = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => self.unicode_escape(at)?,
                        None => return Err(FilterError::new("unterminated string", start)),
                        Some(_) => return Err(FilterError::new("invalid escape sequence", at)),
                    };
                    out.push(c);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// After `\u`: four hex digits, combining a UTF-16 surrogate pair.
    fn unicode_escape(&mut self, at: usize) -> Result<char, FilterError> {
        let hi = self.hex4(at)?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if !(self.eat('\\') && self.eat('u')) {
                    return Err(FilterError::new("unpaired UTF-16 surrogate in \\u escape", at));
                }
                let lo = self.hex4(at)?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(FilterError::new("invalid UTF-16 low surrogate in \\u escape", at));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(FilterError::new("unpaired UTF-16 surrogate in \\u escape", at));
            }
            _ => hi,
        };
        char::from_u32(code).ok_or_else(|| FilterError::new("invalid \\u escape", at))
    }

    fn hex4(&mut self, at: usize) -> Result<u32, FilterError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self.bump().and_then(|c| c.to_digit(16)).ok_or_else(|| FilterError::new("invalid \\u escape: expected 4 hex digits", at))?;
            v = v * 16 + d;
        }
        Ok(v)
    }
}

/// `true`/`false`/`null` in any case, a JSON number, or else a string.
fn classify_unquoted(tok: &str) -> CompValue {
    if tok.eq_ignore_ascii_case("true") {
        return CompValue::Bool(true);
    }
    if tok.eq_ignore_ascii_case("false") {
        return CompValue::Bool(false);
    }
    if tok.eq_ignore_ascii_case("null") {
        return CompValue::Null;
    }
    if tok.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        if let Ok(n) = serde_json::from_str::<serde_json::Number>(tok) {
            return CompValue::Number(n);
        }
    }
    CompValue::String(tok.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(src: &str) -> Result<CompValue, FilterError> {
        Scanner::new(src).value()
    }

    fn s(v: &str) -> CompValue {
        CompValue::String(v.to_string())
    }

    #[test]
    fn json_strings_decode_every_escape() {
        assert_eq!(value(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#).unwrap(), s("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti"));
        assert_eq!(value(r#""\u00e9\u4E2D""#).unwrap(), s("é中"));
    }

    #[test]
    fn surrogate_pairs_combine_into_one_char() {
        assert_eq!(value(r#""\ud83d\ude00""#).unwrap(), s("😀"));
        assert!(value(r#""\ud83d""#).is_err());
        assert!(value(r#""\ud83d\u0041""#).is_err());
        assert!(value(r#""\ude00""#).is_err());
    }

    #[test]
    fn bad_escapes_and_unterminated_strings_are_errors_with_positions() {
        let e = value(r#""ab\x""#).unwrap_err();
        assert_eq!(e.position, 3);
        assert_eq!(value(r#""\u12g4""#).unwrap_err().position, 1);
        let e = value(r#""abc"#).unwrap_err();
        assert_eq!((e.message.as_str(), e.position), ("unterminated string", 0));
        assert!(value("\"abc\\").is_err());
    }

    #[test]
    fn non_ascii_text_passes_through_strings() {
        assert_eq!(value("\"Zoë 山田\"").unwrap(), s("Zoë 山田"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(value("TRUE").unwrap(), CompValue::Bool(true));
        assert_eq!(value("False").unwrap(), CompValue::Bool(false));
        assert_eq!(value("nULL").unwrap(), CompValue::Null);
    }

    #[test]
    fn numbers_follow_json_grammar() {
        for n in ["0", "42", "-7", "3.25", "1e3", "-1.5E-2", "18446744073709551615"] {
            let expected: serde_json::Number = serde_json::from_str(n).unwrap();
            assert_eq!(value(n).unwrap(), CompValue::Number(expected), "{n}");
        }
    }

    #[test]
    fn unquoted_values_are_strings() {
        assert_eq!(value("abc123").unwrap(), s("abc123"));
        assert_eq!(value("5b2c-11ef").unwrap(), s("5b2c-11ef"));
        assert_eq!(value("john.doe@x.com").unwrap(), s("john.doe@x.com"));
        assert_eq!(value("01").unwrap(), s("01"));
        assert_eq!(value("1.").unwrap(), s("1."));
        assert_eq!(value("truely").unwrap(), s("truely"));
    }

    #[test]
    fn unquoted_values_end_at_whitespace_and_closing_brackets() {
        let mut sc = Scanner::new("abc) and x");
        assert_eq!(sc.value().unwrap(), s("abc"));
        assert_eq!(sc.peek(), Some(')'));
        let mut sc = Scanner::new("a\tb");
        assert_eq!(sc.value().unwrap(), s("a"));
        let mut sc = Scanner::new("x]");
        assert_eq!(sc.value().unwrap(), s("x"));
    }

    #[test]
    fn missing_values_are_errors() {
        assert!(value("").is_err());
        assert!(value(")").is_err());
        assert!(value("]").is_err());
        assert!(value("(").is_err());
    }

    #[test]
    fn path_tokens_stop_at_brackets_and_whitespace() {
        let mut sc = Scanner::new("urn:a:b:c.d[x");
        assert_eq!(sc.path_token(), (0, "urn:a:b:c.d"));
        assert!(sc.eat('['));
        let mut sc = Scanner::new("  \t$ref eq");
        assert!(sc.skip_ws());
        assert_eq!(sc.path_token(), (3, "$ref"));
        assert!(!Scanner::new("x").skip_ws());
    }
}
