//! Properties of the parser and the renderer over arbitrary input: no panic, named errors that
//! never quote the payload, SNS-safe Subjects, bounded requests, inert untrusted text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::invocation::{Invocation, invoke};
use lookout_shared::member::MemberError;
use lookout_shared::notification::{SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};
use lookout_shared::publish::MemoryPublisher;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;
use task_alert::{
    Batch, Event, EventError, Fetched, LogLine, LogOutcome, LogRequest, LogSource, LogStream, TaskAlert,
    TaskAlertConfig,
};

const MARK: &str = "PAYLOADMARK";

/// The payload as the runtime hands it to the function.
fn incoming(payload: &Value) -> Incoming<Batch> {
    Incoming::from_document(payload.clone())
}

fn parse_batch(payload: &Value) -> Result<Vec<Event>, EventError> {
    task_alert::parse(incoming(payload).into_parts().1)
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/task-alert/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const SAMPLES: [&str; 15] = [
    "oom-killed.json",
    "exit-1.json",
    "cannot-pull.json",
    "secrets-unavailable.json",
    "elb-health-check.json",
    "spot-interruption.json",
    "scale-in.json",
    "deployment-replacement.json",
    "user-stop.json",
    "non-awslogs.json",
    "deployment-failed.json",
    "placement-failure.json",
    "task-retirement.json",
    "steady-state.json",
    "deployment-completed.json",
];

/// Any JSON, strings carrying the marker, control and bidi characters.
fn any_json() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        Just(format!("{MARK}\n\x1b[31m\u{202E}<!channel>`")),
        "[a-z:/0-9-]{0,40}".prop_map(String::from),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z-]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A real sample with one field (at any depth) replaced by arbitrary JSON.
fn mutated_sample() -> impl Strategy<Value = Value> {
    (0..SAMPLES.len(), any::<prop::sample::Index>(), any_json()).prop_map(|(i, at, replacement)| {
        let mut event = sample(SAMPLES[i]);
        let mut paths = Vec::new();
        collect_paths(&event, String::new(), &mut paths);
        let path = at.get(&paths).clone();
        if let Some(slot) = event.pointer_mut(&path) {
            *slot = replacement;
        }
        event
    })
}

fn collect_paths(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| collect_paths(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| collect_paths(v, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// Log lines as hostile as they come.
struct HostileLogs(Vec<String>);

impl LogSource for HostileLogs {
    type Reader = ();

    async fn reader(&self, _: &AccountId, _: &Region, _: Duration) -> Result<(), MemberError> {
        Ok(())
    }

    async fn last_lines(&self, _: &(), request: LogRequest<'_>) -> Fetched {
        Fetched {
            essential: Some(true),
            logs: LogOutcome::Lines {
                stream: LogStream {
                    region: request.task_definition.region.clone(),
                    group: "/ecs/web".into(),
                    stream: format!("ecs/{}/{}", request.container, request.task_id),
                },
                lines: self
                    .0
                    .iter()
                    .enumerate()
                    .map(|(i, m)| LogLine {
                        timestamp_ms: i as i64,
                        message: m.clone(),
                    })
                    .collect(),
                omitted: 0,
            },
        }
    }
}

fn check_published(messages: &[lookout_shared::notification::SnsMessage], per_protocol: bool) {
    for m in messages {
        assert!(
            !m.subject.is_empty() && m.subject.len() <= SUBJECT_MAX_CHARS,
            "{:?}",
            m.subject
        );
        assert!(
            m.subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{:?}",
            m.subject
        );
        assert!(m.request_bytes() <= SNS_MAX_REQUEST_BYTES);
        let text = if per_protocol {
            let body: Value = serde_json::from_str(&m.message).expect("per-protocol body is JSON");
            let chat: Value =
                serde_json::from_str(body["https"].as_str().unwrap()).expect("chat payload is JSON");
            let description = chat["content"]["description"].as_str().unwrap();
            assert!(!description.contains("<!channel>"), "{description}");
            assert!(!chat["content"]["title"].as_str().unwrap().contains('<'));
            body["default"].as_str().unwrap().to_string()
        } else {
            m.message.clone()
        };
        // Email text: no raw control (other than line breaks and tabs) or bidi characters.
        assert!(
            !text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || ('\u{202A}'..='\u{202E}').contains(&c)),
            "{text:?}"
        );
    }
}

fn ctx() -> Invocation {
    Invocation::new(Deadline::after(Duration::from_secs(60)), "property")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_and_never_quotes_the_payload(event in prop_oneof![any_json(), mutated_sample()]) {
        if let Err(e) = parse_batch(&event) {
            let text = e.to_string();
            prop_assert!(!text.contains(MARK), "{}", text);
            prop_assert!(text.len() < 400, "{}", text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever parses is classified, rendered and fitted: the request stays within the SNS limit,
    /// the Subject is SNS-safe, hostile text stays inert.
    #[test]
    fn whatever_parses_renders_safely(
        events in prop::collection::vec(mutated_sample(), 1..4),
        lines in prop::collection::vec(prop_oneof![any::<String>(), Just(format!("{MARK}\n<!channel>\u{202E}\x1b[2J")), "x{0,70000}".prop_map(String::from)], 0..30),
        per_protocol in any::<bool>(),
    ) {
        let format = if per_protocol { "per-protocol" } else { "text" };
        let config = TaskAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", format),
            ("CHAT_APP_PAYLOAD", if per_protocol { "true" } else { "false" }),
            ("METRICS_ENABLED", "false"),
            ("LOG_LINES", "1000"),
            ("LOG_BYTES", "131072"),
        ])).unwrap();
        let published = MemoryPublisher::default();
        let alert = TaskAlert::new(config, HostileLogs(lines), &published).unwrap();
        let batch = Value::Array(events);
        if parse_batch(&batch).is_err() {
            return Ok(());
        }
        let result = runtime().block_on(invoke(&alert, incoming(&batch), &mut ctx()));
        prop_assert!(result.is_ok(), "{:?}", result.err());
        check_published(&published.messages(), per_protocol);
    }

    /// Hostile names and reasons rendered straight through the shared fitting.
    #[test]
    fn hostile_reasons_fit_and_stay_inert(reason in any::<String>(), name in any::<String>()) {
        let mut event = sample("exit-1.json");
        event["detail"]["stoppedReason"] = json!(format!("{reason}{MARK}"));
        event["detail"]["containers"][0]["name"] = json!(format!("{name}\n<!channel>"));
        event["detail"]["containers"][0]["reason"] = json!(format!("{reason}\u{202E}"));
        let config = TaskAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts.fifo"),
            ("CHAT_APP_PAYLOAD", "true"),
            ("METRICS_ENABLED", "false"),
        ])).unwrap();
        let published = MemoryPublisher::default();
        let alert = TaskAlert::new(config, HostileLogs(vec![reason.clone()]), &published).unwrap();
        runtime().block_on(invoke(&alert, incoming(&event), &mut ctx())).unwrap();
        let messages = published.messages();
        prop_assert_eq!(messages.len(), 1);
        prop_assert_eq!(messages[0].deduplication_id.as_ref().map(String::len), Some(64));
        check_published(&messages, true);
    }
}
