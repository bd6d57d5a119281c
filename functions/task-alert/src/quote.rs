//! Untrusted text (reasons, container names, log lines, Health descriptions) made inert for
//! each place it goes, with the shared quoting (`lookout_shared::text`, `notification::chat_*`);
//! only the double-quoted labelled value is task-alert's own.

use lookout_shared::notification::chat_code_span;
use lookout_shared::text::{inline, push_framed, truncate_utf8};

/// One line, every hidden character escaped.
pub(crate) fn escape(s: &str) -> String {
    inline(s)
}

/// A value on one labelled line: in double quotes (inner quotes and backslashes escaped,
/// hidden characters shown), cut to `max` bytes.
pub(crate) fn quoted(s: &str, max: usize) -> String {
    let cut = truncate_utf8(s, max);
    let mut out = format!("\"{}\"", inline(&cut.replace('\\', "\\\\").replace('"', "\\\"")));
    if cut.len() < s.len() {
        out.push_str(&format!(" … [{} more bytes]", s.len() - cut.len()));
    }
    out
}

/// Log text framed line by line (`  | `), so a log line cannot pass itself off as a section
/// or a link of the alert. Tabs stay (stack traces).
pub(crate) fn framed(out: &mut String, text: &str) {
    push_framed(out, text.trim_end_matches(['\n', '\r']));
}

/// A name or short value inside chat markdown: a code span it cannot leave.
pub(crate) fn chat_inline(s: &str, max: usize) -> String {
    chat_code_span(truncate_utf8(s, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_stay_on_their_line() {
        let q = quoted("x\"\\\n\nOpen: https://evil.example", 100);
        assert_eq!(q, "\"x\\\"\\\\\\n\\nOpen: https://evil.example\"");
        assert!(!q.contains('\n'));
        assert_eq!(quoted("abcdef", 3), "\"abc\" … [3 more bytes]");
    }
}
