//! Property tests: whatever arrives, the decoder and renderer never panic, and what they
//! produce is always within SNS's limits and valid.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use base64::Engine;
use log_alert::{DecodeError, LogAlert, LogAlertConfig, LogEvent, LogsMessage, MessageType, Prepared};
use lookout_shared::config::Env;
use lookout_shared::metrics::Metrics;
use lookout_shared::notification::SUBJECT_MAX_CHARS;
use proptest::prelude::*;
use std::borrow::Cow;
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_all(data: &str, cap: usize) -> Result<usize, DecodeError> {
    let mut out = Vec::new();
    log_alert::decompress(data, cap, &mut out)?;
    assert!(out.len() <= cap);
    log_alert::parse(&out).map(|m| m.log_events.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoding_arbitrary_text_never_panics(data in ".{0,400}") {
        let _ = decode_all(&data, 1 << 16);
    }

    #[test]
    fn decoding_arbitrary_gzip_never_panics_and_respects_the_cap(bytes in proptest::collection::vec(any::<u8>(), 0..4096), cap in 1usize..8192) {
        let _ = decode_all(&b64(&gzip(&bytes)), cap);
    }

    #[test]
    fn decoding_corrupted_gzip_never_panics(bytes in proptest::collection::vec(any::<u8>(), 1..2048), flip in any::<usize>(), cut in any::<usize>()) {
        let mut gz = gzip(&bytes);
        let i = flip % gz.len();
        gz[i] ^= 0xa5;
        gz.truncate(1 + cut % gz.len());
        let _ = decode_all(&b64(&gz), 1 << 16);
    }

    #[test]
    fn decoding_arbitrary_json_shapes_never_panics(json in r#"\{("[a-zA-Z]{1,12}":("[^"\\]{0,20}"|[0-9]{1,5}|\[\]|null),?){0,6}\}"#) {
        let _ = decode_all(&b64(&gzip(json.as_bytes())), 1 << 16);
    }
}

fn message<'a>(group: &'a str, stream: &'a str, events: Vec<LogEvent<'a>>) -> LogsMessage<'a> {
    LogsMessage {
        message_type: MessageType::Data,
        owner: Cow::Borrowed("123456789012"),
        log_group: Cow::Borrowed(group),
        log_stream: Cow::Borrowed(stream),
        subscription_filters: vec![Cow::Borrowed("errors")],
        policy_level: None,
        log_events: events,
    }
}

/// log-alert as production builds it, from its environment, with the request limit lowered.
fn log_alert(
    per_protocol: bool,
    chat_app: bool,
    fifo: bool,
    limit: usize,
    max_lines: usize,
    max_line_bytes: usize,
) -> LogAlert<()> {
    let name = if fifo { "alerts.fifo" } else { "alerts" };
    let env = Env::from_pairs([
        (
            "ALERT_TOPIC_ARN",
            format!("arn:aws:sns:eu-west-1:123456789012:{name}"),
        ),
        ("AWS_REGION", "eu-west-1".to_string()),
        (
            "MESSAGE_FORMAT",
            if per_protocol { "per-protocol" } else { "text" }.to_string(),
        ),
        ("CHAT_APP_PAYLOAD", chat_app.to_string()),
        ("MAX_LINES", max_lines.to_string()),
        ("MAX_LINE_BYTES", max_line_bytes.to_string()),
        // Every arbitrary line is published, whatever it is rated.
        ("MIN_SEVERITY", "NOTICE".to_string()),
    ]);
    let mut config = LogAlertConfig::from_env(&env).unwrap();
    config.delivery.max_request_bytes = limit;
    LogAlert::new(config, ()).unwrap()
}

fn arbitrary_events() -> impl Strategy<Value = Vec<(i64, String)>> {
    let line = prop_oneof![
        // Storm-like lines, ordinary text, and arbitrary Unicode (control characters included).
        (0u32..1000).prop_map(|n| format!("ERROR request {n} failed after {} ms", n * 7)),
        "[a-zA-Z0-9 =:/._-]{0,200}",
        any::<String>(),
        ".{0,3000}",
        (1usize..40_000).prop_map(|n| "é".repeat(n)),
    ];
    // The full i64 range: timestamps are untrusted input (debug builds panic on overflow).
    let timestamp = prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        -1i64..1,
        0i64..4_000_000_000_000
    ];
    proptest::collection::vec((timestamp, line), 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn rendered_alerts_always_fit_sns(
        events in arbitrary_events(),
        group_name in "[a-zA-Z0-9/._#-]{1,512}",
        stream in "[^:*]{1,512}",
        per_protocol in any::<bool>(),
        chat_app in any::<bool>(),
        fifo in any::<bool>(),
        small in any::<bool>(),
        max_lines in 1usize..500,
        max_line_bytes in 256usize..70_000,
    ) {
        // A small limit exercises truncation on every case.
        let limit = if small { 64 << 10 } else { 262_144 };
        let alert = log_alert(per_protocol, chat_app && per_protocol, fifo, limit, max_lines, max_line_bytes);
        let log_events: Vec<LogEvent> = events
            .iter()
            .enumerate()
            .map(|(i, (ts, m))| LogEvent { id: Cow::Owned(i.to_string()), timestamp: *ts, message: Cow::Borrowed(m.as_str()) })
            .collect();
        let msg = message(&group_name, &stream, log_events);
        let Prepared::Publish { message: sns, alert: summary, .. } = alert.plan(&msg, &mut Metrics::default()).unwrap() else {
            panic!("a data batch with events is published");
        };
        prop_assert_eq!(summary.events, events.len() as u64);
        prop_assert!(sns.request_bytes() <= limit, "{} > {limit}", sns.request_bytes());
        prop_assert!(!sns.subject.is_empty() && sns.subject.len() <= SUBJECT_MAX_CHARS);
        prop_assert!(sns.subject.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", sns.subject);
        prop_assert!(!sns.subject.starts_with(' '));
        prop_assert!(summary.shown_lines <= max_lines);
        // No wrapped or negative time ever reaches a link (`start$3D-…`, `end$3D-9223…`).
        for negative in ["start$3D-", "end$3D-", "start~'-", "end~'-"] {
            prop_assert!(!sns.message.contains(negative), "a negative time in a link: {}", negative);
        }
        if per_protocol {
            let body: serde_json::Value = serde_json::from_str(&sns.message).unwrap();
            prop_assert!(body["default"].is_string());
            let sqs: serde_json::Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
            prop_assert_eq!(sqs["eventCount"].as_u64(), Some(events.len() as u64));
            let shown = sqs["lines"].as_array().unwrap().len() as u64;
            prop_assert_eq!(shown + sqs["omitted"]["lines"].as_u64().unwrap(), summary.distinct_lines as u64);
        } else {
            prop_assert!(sns.message.starts_with('['));
        }
        if fifo {
            prop_assert_eq!(sns.deduplication_id.as_ref().map(String::len), Some(64));
            let group_id = sns.group_id.clone().unwrap();
            prop_assert!(!group_id.is_empty() && group_id.len() <= 128);
            prop_assert!(group_id.bytes().all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation()));
        }
    }
}
