//! What renderers produce and SNS receives: the notification at one level of detail, its
//! attributes, and the encoded request. No format or size logic lives here.

use serde_json::Value;

/// An SNS message attribute's value: the two types filter policies compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// Matched as text (`severity`).
    String(String),
    /// Matched numerically (`eventCount`).
    Number(u64),
}

/// A MessageAttribute, for subscription filter policies (text format only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name: one of ours, never from input.
    pub name: &'static str,
    /// The value and its type.
    pub value: AttributeValue,
}

impl Attribute {
    /// A `String` attribute.
    pub fn string(name: &'static str, value: impl Into<String>) -> Self {
        Self {
            name,
            value: AttributeValue::String(value.into()),
        }
    }

    /// A `Number` attribute.
    pub fn number(name: &'static str, value: u64) -> Self {
        Self {
            name,
            value: AttributeValue::Number(value),
        }
    }

    /// The SNS `DataType`: `String` or `Number`.
    pub fn data_type(&self) -> &'static str {
        match self.value {
            AttributeValue::String(_) => "String",
            AttributeValue::Number(_) => "Number",
        }
    }

    /// The value as SNS carries it: text, numbers in decimal.
    pub fn value_string(&self) -> String {
        match &self.value {
            AttributeValue::String(s) => s.clone(),
            AttributeValue::Number(n) => n.to_string(),
        }
    }

    pub(super) fn request_bytes(&self) -> usize {
        self.name.len() + self.data_type().len() + self.value_string().len()
    }
}

/// The Amazon Q Developer in chat apps custom notification. Renderers put log text only
/// inside [`chat_code_block`], so it is never read as markup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatMessage {
    /// The headline (untrusted text is neutralised when encoded).
    pub title: String,
    /// The body, client markdown.
    pub description: String,
    /// What to do next, one line each (console links).
    pub next_steps: Vec<String>,
    /// Short tags the chat client shows (severity, log group, scan type).
    pub keywords: Vec<String>,
    /// The kind of alert (`LookoutLogAlert`), for the chat app to tell alerts apart.
    pub event_type: String,
    /// ARNs of what the alert is about.
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
    /// For chat apps: HTTPS with `CHAT_APP_PAYLOAD`.
    pub chat: ChatMessage,
    /// For filter policies: text format only (SNS drops them otherwise).
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
    /// The Subject, already SNS-safe.
    pub subject: String,
    /// The body: the text, or the per-protocol JSON document.
    pub message: String,
    /// `MessageStructure=json`: `message` holds one body per protocol.
    pub json_structure: bool,
    /// MessageAttributes (at most 10, none in per-protocol format).
    pub attributes: Vec<Attribute>,
    /// The FIFO message group; `None` for a standard topic.
    pub group_id: Option<String>,
    /// The FIFO deduplication id; `None` for a standard topic.
    pub deduplication_id: Option<String>,
    /// The notification's identity (not sent): the key the publish hooks claim and mark done.
    pub identity: String,
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

/// How much a renderer may include: the first `items` items, each cut to `item_bytes`, and only
/// the bodies the delivery sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    /// How many items (log lines, findings) to show.
    pub items: usize,
    /// The most bytes of each item to show.
    pub item_bytes: usize,
    /// The bodies to render.
    pub bodies: Bodies,
}

impl Detail {
    /// Every body; `Delivery::fit` narrows `bodies` to the ones its format sends.
    pub const fn new(items: usize, item_bytes: usize) -> Self {
        Self {
            items,
            item_bytes,
            bodies: Bodies::ALL,
        }
    }
}

/// Which bodies besides `text` are encoded: renderers leave the others empty, so fitting does
/// not render formats that are never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bodies {
    /// `structured` (SQS, Lambda, HTTPS): per-protocol format only.
    pub structured: bool,
    /// `chat` (HTTPS): per-protocol format with `CHAT_APP_PAYLOAD` only.
    pub chat: bool,
}

impl Bodies {
    /// Every body: what a renderer builds before the delivery is known.
    pub const ALL: Bodies = Bodies {
        structured: true,
        chat: true,
    };
}
