//! Untrusted text (reasons, container names, log lines, Health descriptions) made inert for
//! each place it goes: it can neither start a line of its own in the email text, nor reorder
//! what a reader sees (bidi controls), nor send terminal escapes, nor become chat markup.

use lookout_shared::text::truncate_utf8;
use std::fmt::Write;

/// Characters shown as `\u{…}`: controls (newlines included), bidi overrides and isolates,
/// zero-width and other invisible formatting characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn push_escaped(out: &mut String, c: char) {
    if is_hidden(c) {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

/// One line, every hidden character escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// A value on one labelled line: in double quotes (inner quotes escaped), cut to `max` bytes.
pub fn quoted(s: &str, max: usize) -> String {
    let cut = truncate_utf8(s, max);
    let mut out = String::with_capacity(cut.len() + 16);
    out.push('"');
    for c in cut.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    if cut.len() < s.len() {
        let _ = write!(out, " … [{} more bytes]", s.len() - cut.len());
    }
    out
}

/// Log text framed line by line: every physical line starts with `prefix`, so a log line
/// cannot pass itself off as a section or a link of the alert. Tabs stay (stack traces).
pub fn framed(out: &mut String, prefix: &str, text: &str) {
    for line in text.trim_end_matches(['\n', '\r']).split('\n') {
        out.push_str(prefix);
        for c in line.chars() {
            if c == '\t' {
                out.push(c);
            } else {
                push_escaped(out, c);
            }
        }
        out.push('\n');
    }
}

/// A name or short value inside chat markdown: inline code, with what could close it or
/// form a mention or link escaped.
pub fn chat_inline(s: &str, max: usize) -> String {
    let mut out = String::from("`");
    chat_escaped(&mut out, &escape(truncate_utf8(s, max)));
    out.push('`');
    out
}

/// A chat title from an SNS-safe Subject: no mention, link or code markup survives.
pub fn chat_title(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    chat_escaped(&mut out, subject);
    out
}

/// What could close inline code or form a mention or link, escaped as in the shared
/// `chat_code_block`.
fn chat_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '`' => out.push('\''),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_shown() {
        assert_eq!(
            escape("a\nb\r\x1b[31mc\u{202E}d\u{200B}"),
            "a\\u{a}b\\u{d}\\u{1b}[31mc\\u{202e}d\\u{200b}"
        );
        assert_eq!(escape("plain — text ✓"), "plain — text ✓");
    }

    #[test]
    fn quoted_values_stay_on_their_line() {
        let q = quoted("x\"\n\nOpen: https://evil.example", 100);
        assert_eq!(q, "\"x\\\"\\u{a}\\u{a}Open: https://evil.example\"");
        assert!(!q.contains('\n'));
        assert_eq!(quoted("abcdef", 3), "\"abc\" … [3 more bytes]");
    }

    #[test]
    fn framed_lines_all_carry_the_prefix() {
        let mut out = String::new();
        framed(
            &mut out,
            "  | ",
            "Exception\n\tat x.y(Z.java:1)\r\n\nLinks:\nhttps://evil\u{2028}x\n",
        );
        assert_eq!(
            out,
            "  | Exception\n  | \tat x.y(Z.java:1)\\u{d}\n  | \n  | Links:\n  | https://evil\\u{2028}x\n"
        );
        assert!(out.lines().all(|l| l.starts_with("  | ")));
    }

    #[test]
    fn chat_values_are_inert() {
        assert_eq!(
            chat_inline("a`b<!channel>&\n", 100),
            "`a'b&lt;!channel&gt;&amp;\\u{a}`"
        );
    }
}
