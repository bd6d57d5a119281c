//! The SNS encoding: the text body, or the per-protocol JSON structure (default/sqs/lambda/https),
//! MessageAttributes, a safe Subject and FIFO ids.

use super::chat::chat_payload;
use super::model::{AttributeValue, Notification, SnsMessage};
use super::{Delivery, MAX_ATTRIBUTES, MessageFormat, SUBJECT_MAX_CHARS};
use serde_json::json;
use sha2::{Digest, Sha256};

/// FIFO group and deduplication ids.
const FIFO_ID_MAX_CHARS: usize = 128;

impl Delivery {
    /// Encodes a rendered notification as an SNS request.
    pub fn encode(&self, n: &Notification) -> SnsMessage {
        let fifo = self.topic.is_fifo();
        let (message, json_structure) = match self.format {
            MessageFormat::Text => (n.text.clone(), false),
            MessageFormat::PerProtocol => {
                let structured = n.structured.to_string();
                let https = if self.chat_app {
                    chat_payload(n).to_string()
                } else {
                    structured.clone()
                };
                let body = json!({
                    "default": n.text,
                    "sqs": structured,
                    "lambda": structured,
                    "https": https,
                });
                (body.to_string(), true)
            }
        };
        // SNS drops attributes of MessageStructure=json messages, so only text mode sends them.
        let attributes = match self.format {
            MessageFormat::Text => n
                .attributes
                .iter()
                .filter(|a| !matches!(&a.value, AttributeValue::String(s) if s.is_empty()))
                .take(MAX_ATTRIBUTES)
                .cloned()
                .collect(),
            MessageFormat::PerProtocol => Vec::new(),
        };
        SnsMessage {
            subject: subject(&n.subject),
            message,
            json_structure,
            attributes,
            group_id: fifo.then(|| fifo_id(&n.group)),
            deduplication_id: fifo.then(|| deduplication_id(&n.identity)),
            identity: n.identity.clone(),
        }
    }
}

/// An SNS-safe Subject: printable ASCII, one line, starting with a visible character,
/// at most [`SUBJECT_MAX_CHARS`].
pub fn subject(raw: &str) -> String {
    let line = crate::text::ascii_line(raw.trim(), SUBJECT_MAX_CHARS);
    let line = line.trim();
    if line.is_empty() {
        "Lookout notification".to_string()
    } else {
        line.to_string()
    }
}

/// FIFO ids allow `A-Za-z0-9` and ASCII punctuation, up to 128 characters.
pub(super) fn fifo_id(raw: &str) -> String {
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c.is_ascii_punctuation() {
                c
            } else {
                '_'
            }
        })
        .take(FIFO_ID_MAX_CHARS)
        .collect();
    if id.is_empty() { "lookout".to_string() } else { id }
}

/// SHA-256 of the identity, hex: 64 characters, deterministic across redeliveries.
pub fn deduplication_id(identity: &str) -> String {
    let digest = Sha256::digest(identity.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
