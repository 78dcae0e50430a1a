//! Query strings: percent-decoding with `+` as a space (Entra sends filters
//! with `+` for spaces, docs/IDP-QUIRKS.md § Microsoft Entra ID).

/// Decodes `%XX` escapes and `+`; invalid escapes are kept literally and
/// invalid UTF-8 is replaced, so no input can fail here.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=x+y` → [("a","1"), ("b","x y")]. Keys keep their case.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Percent-encodes a query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_percent_escapes_decode() {
        let q = parse_query("filter=userName+eq+%22a%40b.c%22&count=2");
        assert_eq!(q[0], ("filter".to_string(), "userName eq \"a@b.c\"".to_string()));
        assert_eq!(q[1], ("count".to_string(), "2".to_string()));
    }

    #[test]
    fn broken_escapes_survive() {
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%FF", false), "\u{FFFD}");
    }

    #[test]
    fn encoding_round_trips() {
        let s = "displayName eq \"A & B\"";
        assert_eq!(percent_decode(&encode_component(s), true), s);
    }
}
