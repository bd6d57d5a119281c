//! What renderers produce and SNS receives: the notification at one level of detail, its
//! attributes, and the encoded request. No format or size logic lives here.

use serde_json::Value;

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

    pub(super) fn request_bytes(&self) -> usize {
        self.name.len() + self.data_type().len() + self.value_string().len()
    }
}

/// The Amazon Q Developer in chat apps custom notification. Renderers put log text only
/// inside [`chat_code_block`], so it is never read as markup.
#[derive(Debug, Clone, Default, PartialEq)]
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
    pub items: usize,
    pub item_bytes: usize,
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
    pub const ALL: Bodies = Bodies {
        structured: true,
        chat: true,
    };
}
