//! The SNS encoding: the text body, or the per-protocol JSON structure (default/sqs/lambda/https),
//! with the chat payload for HTTPS, and MessageAttributes.

use super::chat::chat_payload;
use super::fields::{deduplication_id, fifo_id, subject};
use super::model::{AttributeValue, Notification, SnsMessage};
use super::{Delivery, MAX_ATTRIBUTES, MessageFormat};
use serde_json::json;

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
