//! Small text helpers shared by every renderer, and the quoting of untrusted text for plain-text
//! bodies (email, SMS, `default`): see [`inline`] and [`push_framed`].

use std::fmt::Write;

/// The prefix of every line of untrusted text in a text body: no log line can start a
/// section, a `Subject:` line or a link line of its own.
pub const FRAME: &str = "  | ";

/// Characters never shown raw: C0/C1 controls and DEL (ANSI escapes, OSC-8 links, BEL, NUL,
/// CR) and the format characters of [`is_format_char`] (bidi, zero-width, separators).
fn is_hidden(c: char) -> bool {
    c.is_control() || is_format_char(c)
}

/// Writes `s` with hidden characters shown as `\u{1b}`; `keep` characters pass unchanged.
fn escape_into(out: &mut String, s: &str, keep: fn(char) -> bool) {
    for c in s.chars() {
        match c {
            c if keep(c) || !is_hidden(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
}

/// Untrusted text on one line of a text body (log group and stream names, account, filter
/// names): every hidden character, newlines and tabs included, is shown escaped
/// (`\n`, `\u{1b}`): it can neither start a line of its own nor hide or reorder what follows.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, |_| false);
    out
}

/// Appends untrusted multi-line text (a log line, a stack trace) to a text body: each of its
/// lines framed by [`FRAME`], tabs kept, every other hidden character escaped, and a newline
/// after the last one.
pub fn push_framed(out: &mut String, text: &str) {
    for line in text.split('\n') {
        out.push_str(FRAME);
        escape_into(out, line, |c| c == '\t');
        out.push('\n');
    }
}

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

/// Unicode format characters that change how text around them is shown: bidi controls,
/// zero-width characters, the BOM, soft hyphen, line/paragraph separators.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
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
    fn inline_text_shows_every_hidden_character_escaped() {
        assert_eq!(inline("/ecs/web"), "/ecs/web");
        assert_eq!(
            inline("a\nSubject: x\r\u{1b}]8;;https://e\u{7}\0\u{202e}b\u{2066}\t"),
            "a\\nSubject: x\\r\\u{1b}]8;;https://e\\u{7}\\u{0}\\u{202e}b\\u{2066}\\t"
        );
        for c in [
            '\u{202a}', '\u{202d}', '\u{2069}', '\u{200b}', '\u{2028}', '\u{85}', '\u{7f}',
        ] {
            assert!(!inline(&format!("x{c}y")).contains(c), "{c:?}");
        }
        assert_eq!(inline("日本語 ✓"), "日本語 ✓");
    }

    #[test]
    fn framed_text_cannot_start_a_line_of_its_own() {
        let mut out = String::new();
        push_framed(
            &mut out,
            "ERROR x\n--- CRITICAL forged\nSubject: y\n\tat A.b(A.java:1)\u{1b}[31m",
        );
        assert_eq!(
            out,
            "  | ERROR x\n  | --- CRITICAL forged\n  | Subject: y\n  | \tat A.b(A.java:1)\\u{1b}[31m\n"
        );
    }

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
    fn inline_escapes_line_breaks_controls_and_bidi() {
        assert_eq!(
            inline("a\nb\r\tc\u{1b}[31m\u{7}\u{0}\u{202e}d\u{200b}é"),
            "a\\nb\\r\\tc\\u{1b}[31m\\u{7}\\u{0}\\u{202e}d\\u{200b}é"
        );
        assert_eq!(inline("plain text: ok"), "plain text: ok");
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
