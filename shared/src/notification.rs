//! One notification, shaped for SNS: Subject rules, per-protocol payloads, MessageAttributes,
//! FIFO ids, and the 256 KiB request limit, enforced by re-rendering with less detail until
//! the whole request fits.

use crate::config::{ConfigError, Env, TopicArn};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// SNS counts message body, subject and every attribute's name, type and value against this.
pub const SNS_MAX_REQUEST_BYTES: usize = 262_144;
/// SNS wants "under 100 characters", printable ASCII, no line breaks.
pub const SUBJECT_MAX_CHARS: usize = 99;
/// SNS allows 10 message attributes per message.
pub const MAX_ATTRIBUTES: usize = 10;
/// FIFO group and deduplication ids.
const FIFO_ID_MAX_CHARS: usize = 128;

/// How the SNS message body is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// `MessageStructure=json`: readable text for email and `default`, a JSON document for
    /// SQS, Lambda and HTTPS. SNS does not deliver MessageAttributes in this mode.
    PerProtocol,
    /// One plain-text body for every protocol, with MessageAttributes for filter policies.
    Text,
}

/// How notifications reach the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: TopicArn,
    pub format: MessageFormat,
    /// HTTPS subscribers get the Amazon Q Developer in chat apps custom-notification schema.
    pub chat_app: bool,
    pub max_request_bytes: usize,
}

impl Delivery {
    /// `MESSAGE_FORMAT` (`per-protocol` | `text`) and `CHAT_APP_PAYLOAD` (bool).
    pub fn from_env(env: &Env, topic: TopicArn) -> Result<Self, ConfigError> {
        let format = match env.get("MESSAGE_FORMAT").map(str::to_ascii_lowercase).as_deref() {
            None | Some("per-protocol") => MessageFormat::PerProtocol,
            Some("text") => MessageFormat::Text,
            Some(other) => {
                return Err(ConfigError::new(
                    "MESSAGE_FORMAT",
                    format!("must be per-protocol or text, got {other:?}"),
                ));
            }
        };
        let chat_app = env.flag("CHAT_APP_PAYLOAD", false)?;
        if chat_app && format == MessageFormat::Text {
            return Err(ConfigError::new(
                "CHAT_APP_PAYLOAD",
                "needs MESSAGE_FORMAT=per-protocol (the chat payload goes to HTTPS subscribers only)",
            ));
        }
        Ok(Self {
            topic,
            format,
            chat_app,
            max_request_bytes: SNS_MAX_REQUEST_BYTES,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    Number(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub value: AttributeValue,
}

impl Attribute {
    pub fn string(name: &'static str, value: impl Into<String>) -> Self {
        Self {
            name,
            value: AttributeValue::String(value.into()),
        }
    }

    pub fn number(name: &'static str, value: u64) -> Self {
        Self {
            name,
            value: AttributeValue::Number(value),
        }
    }

    pub fn data_type(&self) -> &'static str {
        match self.value {
            AttributeValue::String(_) => "String",
            AttributeValue::Number(_) => "Number",
        }
    }

    pub fn value_string(&self) -> String {
        match &self.value {
            AttributeValue::String(s) => s.clone(),
            AttributeValue::Number(n) => n.to_string(),
        }
    }

    fn request_bytes(&self) -> usize {
        self.name.len() + self.data_type().len() + self.value_string().len()
    }
}

/// The Amazon Q Developer in chat apps custom notification. Renderers put log text only
/// inside [`chat_code_block`], so it is never read as markup.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub title: String,
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
    pub event_type: String,
    pub related_resources: Vec<String>,
}

/// What a renderer produces at one level of detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Free text: made SNS-safe when encoded.
    pub subject: String,
    /// For people: email and `default`.
    pub text: String,
    /// For programs: SQS, Lambda, HTTPS.
    pub structured: Value,
    pub chat: ChatMessage,
    pub attributes: Vec<Attribute>,
    /// FIFO message group (sanitised when encoded).
    pub group: String,
    /// Stable identity of what is being reported: the same input gives the same FIFO
    /// deduplication id, so a redelivered event is deduplicated by SNS.
    pub identity: String,
}

/// A request ready for `sns:Publish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    pub subject: String,
    pub message: String,
    pub json_structure: bool,
    pub attributes: Vec<Attribute>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

impl SnsMessage {
    /// Bytes SNS counts against its limit. Subject and FIFO ids are counted too, to be safe.
    pub fn request_bytes(&self) -> usize {
        self.message.len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(Attribute::request_bytes)
                .sum::<usize>()
            + self.group_id.as_ref().map_or(0, String::len)
            + self.deduplication_id.as_ref().map_or(0, String::len)
    }
}

/// How much a renderer may include: the first `items` items, each cut to `item_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub items: usize,
    pub item_bytes: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the notification does not fit the SNS limit of {limit} bytes even without any items ({bytes} bytes)"
)]
pub struct FitError {
    pub bytes: usize,
    pub limit: usize,
}

/// The smallest per-item size tried before giving up on showing any item.
const MIN_ITEM_BYTES: usize = 256;

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
        }
    }

    /// Renders with as much detail as fits: all of `max`, else the most items that fit, else
    /// shorter items. `render` must produce smaller output for smaller [`Detail`].
    pub fn fit(
        &self,
        max: Detail,
        mut render: impl FnMut(Detail) -> Notification,
    ) -> Result<(SnsMessage, Detail), FitError> {
        let limit = self.max_request_bytes;
        let mut attempt = |d: Detail| {
            let msg = self.encode(&render(d));
            let bytes = msg.request_bytes();
            if bytes <= limit { Ok(msg) } else { Err(bytes) }
        };
        if let Ok(msg) = attempt(max) {
            return Ok((msg, max));
        }
        let mut item_bytes = max.item_bytes;
        loop {
            let best = largest_fitting(max.items, |items| attempt(Detail { items, item_bytes }).ok());
            let exhausted = max.items == 0 || item_bytes <= MIN_ITEM_BYTES;
            match best {
                Some((msg, items)) if items > 0 || exhausted => {
                    return Ok((msg, Detail { items, item_bytes }));
                }
                None if exhausted => {
                    let bytes = attempt(Detail { items: 0, item_bytes }).err().unwrap_or(0);
                    return Err(FitError { bytes, limit });
                }
                _ => item_bytes = (item_bytes / 2).max(MIN_ITEM_BYTES),
            }
        }
    }
}

/// The largest `n` in `0..=max` for which `try_n` succeeds, assuming success is monotonic.
fn largest_fitting<T>(max: usize, mut try_n: impl FnMut(usize) -> Option<T>) -> Option<(T, usize)> {
    let (mut lo, mut hi) = (0usize, max);
    let mut best = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match try_n(mid) {
            Some(found) => {
                best = Some((found, mid));
                lo = mid + 1;
            }
            None if mid == 0 => break,
            None => hi = mid - 1,
        }
    }
    best
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
fn fifo_id(raw: &str) -> String {
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

/// The Amazon Q Developer in chat apps custom notification document.
fn chat_payload(n: &Notification) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicArn {
        TopicArn::parse("T", &format!("arn:aws:sns:eu-west-1:123456789012:{name}")).unwrap()
    }

    fn delivery(format: MessageFormat, chat_app: bool) -> Delivery {
        Delivery {
            topic: topic("alerts"),
            format,
            chat_app,
            max_request_bytes: SNS_MAX_REQUEST_BYTES,
        }
    }

    fn sample(items: usize, item_bytes: usize) -> Notification {
        let line = "x".repeat(item_bytes);
        let lines: Vec<&str> = (0..items).map(|_| line.as_str()).collect();
        Notification {
            subject: "[ERROR] 3 events in /ecs/web".into(),
            text: lines.join("\n"),
            structured: json!({"lines": lines}),
            chat: ChatMessage {
                title: "t".into(),
                description: "d".into(),
                next_steps: vec![],
                keywords: vec!["k".into()],
                event_type: "e".into(),
                related_resources: vec![],
            },
            attributes: vec![
                Attribute::string("severity", "ERROR"),
                Attribute::number("eventCount", 3),
            ],
            group: "/ecs/web".into(),
            identity: "batch-1".into(),
        }
    }

    #[test]
    fn subjects_are_sns_safe() {
        assert_eq!(
            subject("[ERROR] 3 events in /ecs/web"),
            "[ERROR] 3 events in /ecs/web"
        );
        assert_eq!(subject("  \n"), "Lookout notification");
        assert_eq!(subject("é\nx"), "? x");
        let long = subject(&"a".repeat(300));
        assert_eq!(long.len(), SUBJECT_MAX_CHARS);
        assert!(long.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }

    #[test]
    fn per_protocol_body_has_each_protocol_and_no_attributes() {
        let msg = delivery(MessageFormat::PerProtocol, false).encode(&sample(1, 3));
        assert!(msg.json_structure);
        let body: Value = serde_json::from_str(&msg.message).unwrap();
        assert_eq!(body["default"], "xxx");
        let sqs: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(sqs["lines"][0], "xxx");
        assert_eq!(body["lambda"], body["sqs"]);
        assert_eq!(body["https"], body["sqs"]);
        assert!(msg.attributes.is_empty());
        assert_eq!(msg.group_id, None);
    }

    #[test]
    fn chat_app_payload_goes_to_https() {
        let msg = delivery(MessageFormat::PerProtocol, true).encode(&sample(1, 3));
        let body: Value = serde_json::from_str(&msg.message).unwrap();
        let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["content"]["textType"], "client-markdown");
        assert_eq!(chat["metadata"]["summary"], "[ERROR] 3 events in /ecs/web");
    }

    #[test]
    fn text_format_carries_attributes() {
        let msg = delivery(MessageFormat::Text, false).encode(&sample(2, 3));
        assert!(!msg.json_structure);
        assert_eq!(msg.message, "xxx\nxxx");
        assert_eq!(msg.attributes.len(), 2);
        assert_eq!(msg.attributes[1].data_type(), "Number");
    }

    #[test]
    fn fifo_topics_get_deterministic_ids() {
        let d = Delivery {
            topic: topic("alerts.fifo"),
            ..delivery(MessageFormat::Text, false)
        };
        let a = d.encode(&sample(1, 1));
        let b = d.encode(&sample(1, 1));
        assert_eq!(a.group_id.as_deref(), Some("/ecs/web"));
        assert_eq!(a.deduplication_id, b.deduplication_id);
        assert_eq!(a.deduplication_id.as_ref().unwrap().len(), 64);
        let mut other = sample(1, 1);
        other.identity = "batch-2".into();
        assert_ne!(d.encode(&other).deduplication_id, a.deduplication_id);
        assert_eq!(fifo_id(&"é".repeat(300)).len(), 128);
        assert_eq!(fifo_id(""), "lookout");
    }

    #[test]
    fn fit_keeps_everything_when_it_fits() {
        let d = delivery(MessageFormat::PerProtocol, false);
        let (msg, detail) = d
            .fit(
                Detail {
                    items: 10,
                    item_bytes: 100,
                },
                |d| sample(d.items, d.item_bytes),
            )
            .unwrap();
        assert_eq!(
            detail,
            Detail {
                items: 10,
                item_bytes: 100
            }
        );
        assert!(msg.request_bytes() <= SNS_MAX_REQUEST_BYTES);
    }

    #[test]
    fn fit_drops_items_to_the_largest_count_that_fits() {
        for format in [MessageFormat::PerProtocol, MessageFormat::Text] {
            let d = delivery(format, false);
            let (msg, detail) = d
                .fit(
                    Detail {
                        items: 5_000,
                        item_bytes: 1_000,
                    },
                    |d| sample(d.items, d.item_bytes),
                )
                .unwrap();
            assert!(msg.request_bytes() <= SNS_MAX_REQUEST_BYTES);
            // One more item would not have fitted.
            let more = d.encode(&sample(detail.items + 1, detail.item_bytes));
            assert!(
                more.request_bytes() > SNS_MAX_REQUEST_BYTES,
                "{format:?} {detail:?}"
            );
            assert!(detail.items > 0);
        }
    }

    #[test]
    fn fit_shortens_items_when_one_is_too_big() {
        let d = delivery(MessageFormat::PerProtocol, false);
        let (msg, detail) = d
            .fit(
                Detail {
                    items: 3,
                    item_bytes: 1 << 20,
                },
                |d| sample(d.items, d.item_bytes),
            )
            .unwrap();
        assert!(detail.items >= 1 && detail.item_bytes < 1 << 20, "{detail:?}");
        assert!(msg.request_bytes() <= SNS_MAX_REQUEST_BYTES);
    }

    #[test]
    fn fit_fails_loudly_when_even_the_header_is_too_big() {
        let d = Delivery {
            max_request_bytes: 10,
            ..delivery(MessageFormat::Text, false)
        };
        let err = d
            .fit(
                Detail {
                    items: 2,
                    item_bytes: 10,
                },
                |d| sample(d.items, d.item_bytes),
            )
            .unwrap_err();
        assert_eq!(err.limit, 10);
    }

    #[test]
    fn chat_code_blocks_neutralise_markup() {
        let out = chat_code_block("```<!channel> & <https://x|y>`");
        assert_eq!(out, "```\n'''&lt;!channel&gt; &amp; &lt;https://x|y&gt;'\n```");
    }
}
