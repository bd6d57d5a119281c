//! The Amazon Q Developer in chat apps payload (HTTPS subscribers), and the quoting of untrusted
//! text inside it.

use super::model::Notification;
use super::sns::{deduplication_id, fifo_id, subject};
use serde_json::{Value, json};

/// The Amazon Q Developer in chat apps custom notification document.
pub(super) fn chat_payload(n: &Notification) -> Value {
    json!({
        "version": "1.0",
        "source": "custom",
        "id": deduplication_id(&n.identity),
        "content": {
            "textType": "client-markdown",
            "title": n.chat.title,
            "description": n.chat.description,
            "nextSteps": n.chat.next_steps,
            "keywords": n.chat.keywords,
        },
        "metadata": {
            "threadId": fifo_id(&n.group),
            "summary": subject(&n.subject),
            "eventType": n.chat.event_type,
            "relatedResources": n.chat.related_resources,
        },
    })
}

/// Untrusted text (log lines, finding titles) for a chat message: inside a code block,
/// with the characters that could end the block or form Slack control sequences escaped.
pub fn chat_code_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str("```\n");
    for c in text.chars() {
        match c {
            '`' => out.push('\''),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out.push_str("\n```");
    out
}

/// Untrusted text outside a code block (titles, keywords): one line (see
/// [`crate::text::inline`]), with backticks and the characters of Slack control sequences
/// (`<!channel>`, `<url|text>`) neutralised.
pub fn chat_text(text: &str) -> String {
    let line = crate::text::inline(text);
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '`' => out.push('\''),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}
