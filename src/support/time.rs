//! RFC 3339 timestamps without a date library (the Worker has no clock of
//! its own in the core: time always arrives as Unix milliseconds).

/// Unix time in milliseconds, handed in by the shell (`Date.now()`) or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    /// `2026-11-23T08:00:00.000Z`: fixed width, so text order is time order.
    pub fn to_rfc3339(self) -> String {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_seconds(self, s: i64) -> Millis {
        Millis(self.0.saturating_add(s.saturating_mul(1000)))
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 / xsd:dateTime (`2011-05-13T04:42:34Z`, with optional
/// fraction and `+hh:mm` offset; a missing offset is UTC) to Unix millis.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (mut hour, mut min, mut sec, mut frac_ms) = (0, 0, 0, 0);
    let mut i = 10;
    if matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        hour = num(11, 2)?;
        min = num(14, 2)?;
        sec = num(17, 2)?;
        if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || hour > 23 || min > 59 || sec > 60 {
            return None;
        }
        i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let digits = s.get(start..i)?;
            if digits.is_empty() {
                return None;
            }
            let padded: String = digits.chars().chain("000".chars()).take(3).collect();
            frac_ms = padded.parse().ok()?;
        }
    }
    let offset_min = match b.get(i) {
        None | Some(b'Z' | b'z') if i + 1 >= b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = num(i + 4, 2)?;
            if b.get(i + 3) != Some(&b':') || b.len() != i + 6 {
                return None;
            }
            let o = oh * 60 + om;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some(Millis(secs * 1000 + frac_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_epoch_and_a_known_instant() {
        assert_eq!(Millis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Millis(1_795_420_800_123).to_rfc3339(), "2026-11-23T08:00:00.123Z");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 1, 951_782_400_000, 1_795_420_800_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&Millis(ms).to_rfc3339()), Some(Millis(ms)));
        }
    }

    #[test]
    fn parses_offsets_and_missing_fractions() {
        assert_eq!(parse_rfc3339("2011-05-13T04:42:34Z"), parse_rfc3339("2011-05-13T06:42:34+02:00"));
        assert_eq!(parse_rfc3339("2011-05-13T04:42:34Z").map(|m| m.to_rfc3339()).as_deref(), Some("2011-05-13T04:42:34.000Z"));
        assert_eq!(parse_rfc3339("2011-05-13").map(|m| m.to_rfc3339()).as_deref(), Some("2011-05-13T00:00:00.000Z"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in ["", "2011", "2011-13-01T00:00:00Z", "2011-05-13T04:42", "2011-05-13T04:42:34Zjunk", "é2011-05-13", "2011-05-13T04:42:34.Z", "9999-99-99"] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }
}
