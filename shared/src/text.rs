//! Small text helpers shared by every renderer.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `1987` → `"1,987"`: counts in alerts are read by tired people.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` followed by `singular` or `plural`: `1 event`, `2,000 events`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { singular } else { plural })
}

/// Printable ASCII only, single line, at most `max` characters, with the middle elided when
/// too long (the tail of a log group name is usually the part that tells services apart).
pub fn ascii_line(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            '\t' | '\n' | '\r' => ' ',
            _ => '?',
        })
        .collect();
    if clean.len() <= max {
        return clean;
    }
    if max < 8 {
        return clean[..max].to_string();
    }
    let head = (max - 3) / 2;
    let tail = max - 3 - head;
    format!("{}...{}", &clean[..head], &clean[clean.len() - tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("日本語", 4), "日");
        assert_eq!(truncate_utf8("abc", 10), "abc");
        assert_eq!(truncate_utf8("abc", 0), "");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_987), "1,987");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "event", "events"), "1 event");
        assert_eq!(count(10_000, "event", "events"), "10,000 events");
    }

    #[test]
    fn ascii_line_replaces_and_elides() {
        assert_eq!(ascii_line("a\tb\nc", 10), "a b c");
        assert_eq!(ascii_line("café", 10), "caf?");
        let long = "x".repeat(50) + &"y".repeat(50);
        let out = ascii_line(&long, 21);
        assert_eq!(out.len(), 21);
        assert!(
            out.starts_with("xxxxxxxxx...") && out.ends_with("yyyyyyyyy"),
            "{out}"
        );
    }
}
