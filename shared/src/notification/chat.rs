//! The Amazon Q Developer in chat apps payload (HTTPS subscribers), and the quoting of untrusted
//! text inside it.

use super::fields::{deduplication_id, fifo_id, subject};
use super::model::Notification;
use serde_json::{Value, json};

/// The Amazon Q Developer in chat apps custom notification document.
pub(super) fn chat_payload(n: &Notification) -> Value {
    json!({
        "version": "1.0",
        "source": "custom",
        "id": deduplication_id(&n.identity),
        "content": {
            "textType": "client-markdown",
            "title": chat_inline(&n.chat.title),
            "description": n.chat.description,
            "nextSteps": n.chat.next_steps,
            "keywords": n.chat.keywords.iter().map(|k| chat_inline(k)).collect::<Vec<_>>(),
        },
        "metadata": {
            "threadId": fifo_id(&n.group),
            "summary": chat_inline(&subject(&n.subject)),
            "eventType": n.chat.event_type,
            "relatedResources": n.chat.related_resources,
        },
    })
}

/// Untrusted text (log lines, finding titles) for a chat message: inside a code block, with
/// the characters that could end the block or form Slack control sequences escaped.
pub fn chat_code_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str("```\n");
    push_chat_quoted(&mut out, text, true);
    out.push_str("\n```");
    out
}

/// A short untrusted name (log group, stream, repository) inside a chat sentence: one line, in a
/// code span it cannot leave.
pub fn chat_code_span(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    push_chat_quoted(&mut out, text, false);
    out.push('`');
    out
}

/// Untrusted text outside any code (titles, summaries, keywords): the same neutralising, and
/// `[text](url)` is broken apart so it is never a markdown link.
pub(super) fn chat_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_chat_quoted(&mut out, text, false);
    out.replace("](", "] (")
}

/// Escapes what would end a code span/block (backticks), form Slack control sequences
/// (`<!channel>`, `<@U…>`, `<url|text>`: `& < >`), or mention people (`@here`, `@channel`,
/// `@everyone`, `@user`: `@` becomes the full-width `＠`); hidden characters are shown as
/// `\u{..}` like in text bodies, and line breaks are kept only in `multiline` text.
fn push_chat_quoted(out: &mut String, text: &str, multiline: bool) {
    for c in text.chars() {
        match c {
            '`' => out.push('\''),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push('＠'),
            '\n' | '\t' if multiline => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                out.push_str(&crate::text::inline(c.encode_utf8(&mut buf)));
            }
        }
    }
}
