//! The invariants every rendered alert keeps, whatever the input.

use lookout_shared::config::TopicArn;
use lookout_shared::logs::decode::{LogsMessage, MessageType};
use lookout_shared::logs::group;
use lookout_shared::logs::render::AlertContext;
use lookout_shared::notification::{Delivery, Detail, MessageFormat, SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};
use lookout_shared::redact::Redactor;

pub fn check_rendered(message: &LogsMessage, max_lines: usize, max_line_bytes: usize, per_protocol: bool, fifo: bool) {
    if message.message_type == MessageType::Control {
        return;
    }
    let topic = if fifo { "alerts.fifo" } else { "alerts" };
    let delivery = Delivery {
        topic: TopicArn::parse("T", &format!("arn:aws:sns:us-east-1:123456789012:{topic}")).expect("topic"),
        format: if per_protocol { MessageFormat::PerProtocol } else { MessageFormat::Text },
        chat_app: per_protocol,
        max_request_bytes: SNS_MAX_REQUEST_BYTES,
    };
    let grouped = group::group(&message.log_events, &Redactor::built_in());
    let context = AlertContext { message, grouped: &grouped, region: "us-east-1" };
    let fitted = delivery.fit(Detail { items: max_lines, item_bytes: max_line_bytes }, |d| context.render(d));
    let header_within_aws_limits = message.log_group.len() <= 512
        && message.log_stream.len() <= 512
        && message.owner.len() <= 64
        && message.subscription_filters.iter().map(|f| f.len() + 2).sum::<usize>() <= 1024
        && message.policy_level.as_ref().is_none_or(|p| p.len() <= 64);
    let sns = match fitted {
        Ok((sns, _)) => sns,
        // Only names longer than AWS allows may leave no room; the function then fails loudly.
        Err(e) => {
            assert!(!header_within_aws_limits, "a valid batch did not fit: {e}");
            return;
        }
    };
    assert!(sns.request_bytes() <= SNS_MAX_REQUEST_BYTES);
    assert!(!sns.subject.is_empty() && sns.subject.len() <= SUBJECT_MAX_CHARS);
    assert!(sns.subject.bytes().all(|b| (0x20..0x7f).contains(&b)) && !sns.subject.starts_with(' '));
    if per_protocol {
        let body: serde_json::Value = serde_json::from_str(&sns.message).expect("per-protocol body is JSON");
        assert!(body["default"].is_string());
    }
}
