//! One notification, shaped for SNS. Renderers build the [`model`]'s `Notification` for a given
//! [`Detail`]; [`Delivery`] (from the environment) encodes it ([`sns`], with the [`chat`] payload
//! for HTTPS; both take Subject and ids from [`fields`]) and [`fit`]s it into the 256 KiB request
//! limit.

mod chat;
mod fields;
mod fit;
mod model;
mod sns;

pub use chat::{chat_code_block, chat_code_span};
pub use fields::{deduplication_id, subject};
pub use fit::FitError;
pub use model::{Attribute, AttributeValue, Bodies, ChatMessage, Detail, Notification, SnsMessage};

use crate::config::{ConfigError, Env, TopicArn};

/// SNS counts message body, subject and every attribute's name, type and value against this.
pub const SNS_MAX_REQUEST_BYTES: usize = 262_144;
/// SNS wants "under 100 characters", printable ASCII, no line breaks.
pub const SUBJECT_MAX_CHARS: usize = 99;
/// SNS allows 10 message attributes per message.
pub const MAX_ATTRIBUTES: usize = 10;

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
    /// `ALERT_TOPIC_ARN`.
    pub topic: TopicArn,
    /// `MESSAGE_FORMAT`.
    pub format: MessageFormat,
    /// HTTPS subscribers get the Amazon Q Developer in chat apps custom-notification schema.
    pub chat_app: bool,
    /// The request size limit: [`SNS_MAX_REQUEST_BYTES`]; tests lower it.
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
                    format!(
                        "must be per-protocol or text, not {}",
                        crate::config::shape(other)
                    ),
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

#[cfg(test)]
mod tests {
    use super::fields::fifo_id;
    use super::*;
    use serde_json::{Value, json};

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
            .fit(Detail::new(10, 100), |d| sample(d.items, d.item_bytes))
            .unwrap();
        assert_eq!((detail.items, detail.item_bytes), (10, 100));
        // Per-protocol without the chat payload: the chat body is never rendered.
        let expected = Bodies {
            structured: true,
            chat: false,
        };
        assert_eq!(detail.bodies, expected);
        assert!(msg.request_bytes() <= SNS_MAX_REQUEST_BYTES);
    }

    #[test]
    fn fit_drops_items_to_the_largest_count_that_fits() {
        for format in [MessageFormat::PerProtocol, MessageFormat::Text] {
            let d = delivery(format, false);
            let (msg, detail) = d
                .fit(Detail::new(5_000, 1_000), |d| sample(d.items, d.item_bytes))
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
            .fit(Detail::new(3, 1 << 20), |d| sample(d.items, d.item_bytes))
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
            .fit(Detail::new(2, 10), |d| sample(d.items, d.item_bytes))
            .unwrap_err();
        assert_eq!(err.limit, 10);
    }

    #[test]
    fn chat_code_blocks_neutralise_markup() {
        let out = chat_code_block("```<!channel> & <https://x|y>`");
        assert_eq!(out, "```\n'''&lt;!channel&gt; &amp; &lt;https://x|y&gt;'\n```");
        let out = chat_code_block("a\n\tb @here <@U123> \u{1b}[1m\u{202e}");
        assert_eq!(out, "```\na\n\tb ＠here &lt;＠U123&gt; \\u{1b}[1m\\u{202e}\n```");
    }

    #[test]
    fn chat_code_spans_stay_one_closed_span() {
        let out = chat_code_span("s`\n<!channel>\n*Open the log stream*: [x](https://evil.example) @here");
        assert_eq!(
            out,
            "`s'\\n&lt;!channel&gt;\\n*Open the log stream*: [x](https://evil.example) ＠here`"
        );
        assert_eq!(out.matches('`').count(), 2);
    }

    #[test]
    fn chat_titles_summaries_and_keywords_are_neutralised() {
        let mut n = sample(1, 3);
        n.subject = "[ERROR] in <!channel> [x](https://evil.example) @here".into();
        n.chat.title = n.subject.clone();
        n.chat.keywords = vec!["<@U1>`".into()];
        let msg = delivery(MessageFormat::PerProtocol, true).encode(&n);
        let body: Value = serde_json::from_str(&msg.message).unwrap();
        let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
        for text in [
            chat["content"]["title"].as_str().unwrap(),
            chat["metadata"]["summary"].as_str().unwrap(),
            chat["content"]["keywords"][0].as_str().unwrap(),
        ] {
            for live in ["<!", "<@", "@here", "](", "`"] {
                assert!(!text.contains(live), "{live} in {text}");
            }
        }
        assert_eq!(
            chat["content"]["title"],
            "[ERROR] in &lt;!channel&gt; [x] (https://evil.example) ＠here"
        );
    }
}
