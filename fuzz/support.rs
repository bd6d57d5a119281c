//! The invariants every rendered alert keeps, whatever the input. The batch goes through
//! log-alert's own planning entry point (`LogAlert::plan`), configured from its environment.

use log_alert::{LogAlert, LogAlertConfig, LogAlertError, LogsMessage, Prepared};
use lookout_shared::config::Env;
use lookout_shared::metrics::Metrics;
use lookout_shared::notification::{SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Building a `LogAlert` compiles the redaction rules: one per configuration, reused.
fn with_log_alert<T>(key: (usize, usize, bool, bool), f: impl FnOnce(&LogAlert<()>) -> T) -> T {
    static CACHE: OnceLock<Mutex<HashMap<(usize, usize, bool, bool), &'static LogAlert<()>>>> = OnceLock::new();
    let (max_lines, max_line_bytes, per_protocol, fifo) = key;
    let alert = *CACHE
        .get_or_init(Default::default)
        .lock()
        .expect("cache")
        .entry(key)
        .or_insert_with(|| {
            let topic = if fifo { "alerts.fifo" } else { "alerts" };
            let env = Env::from_pairs([
                ("ALERT_TOPIC_ARN", format!("arn:aws:sns:us-east-1:123456789012:{topic}")),
                ("AWS_REGION", "us-east-1".to_string()),
                ("MESSAGE_FORMAT", if per_protocol { "per-protocol" } else { "text" }.to_string()),
                ("CHAT_APP_PAYLOAD", per_protocol.to_string()),
                ("MAX_LINES", max_lines.to_string()),
                ("MAX_LINE_BYTES", max_line_bytes.to_string()),
                // Every line is rendered, whatever its rating.
                ("MIN_SEVERITY", "NOTICE".to_string()),
            ]);
            let config = LogAlertConfig::from_env(&env).expect("config");
            Box::leak(Box::new(LogAlert::new(config, ()).expect("log-alert")))
        });
    f(alert)
}

pub fn check_rendered(message: &LogsMessage, max_lines: usize, max_line_bytes: usize, per_protocol: bool, fifo: bool) {
    let planned = with_log_alert((max_lines, max_line_bytes, per_protocol, fifo), |alert| {
        alert.plan(message, &mut Metrics::default())
    });
    let header_within_aws_limits = message.log_group.len() <= 512
        && message.log_stream.len() <= 512
        && message.owner.len() <= 64
        && message.subscription_filters.iter().map(|f| f.len() + 2).sum::<usize>() <= 1024
        && message.policy_level.as_ref().is_none_or(|p| p.len() <= 64);
    let sns = match planned {
        Ok(Prepared::Publish { message, .. }) => message,
        // Control messages and empty batches publish nothing.
        Ok(Prepared::Done(_)) => return,
        // Only names longer than AWS allows may leave no room; the function then fails loudly.
        Err(LogAlertError::TooLarge(e)) => {
            assert!(!header_within_aws_limits, "a valid batch did not fit: {e}");
            return;
        }
        Err(e) => panic!("planning a decoded batch failed: {e}"),
    };
    assert!(sns.request_bytes() <= SNS_MAX_REQUEST_BYTES);
    assert!(!sns.subject.is_empty() && sns.subject.len() <= SUBJECT_MAX_CHARS);
    assert!(sns.subject.bytes().all(|b| (0x20..0x7f).contains(&b)) && !sns.subject.starts_with(' '));
    if per_protocol {
        let body: serde_json::Value = serde_json::from_str(&sns.message).expect("per-protocol body is JSON");
        assert!(body["default"].is_string());
    }
}
