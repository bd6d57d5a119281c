//! Arbitrary bytes as task-alert's event (JSON: one EventBridge event or an array), through the
//! parser, classification, grouping, rendering with hostile log lines, and SNS fitting.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::invocation::{Invocation, invoke};
use lookout_shared::member::MemberError;
use lookout_shared::notification::{SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};
use lookout_shared::publish::MemoryPublisher;
use std::time::Duration;
use task_alert::{Batch, Fetched, LogLine, LogOutcome, LogRequest, LogSource, LogStream, TaskAlert, TaskAlertConfig};

/// The input's own text comes back as the container's log lines.
struct EchoLogs(String);

impl LogSource for EchoLogs {
    type Reader = ();

    async fn reader(&self, _: &AccountId, _: &Region, _: Duration) -> Result<(), MemberError> {
        Ok(())
    }

    async fn last_lines(&self, _: &(), request: LogRequest<'_>) -> Fetched {
        Fetched {
            essential: None,
            logs: LogOutcome::Lines {
                stream: LogStream {
                    region: request.task_definition.region.clone(),
                    group: "/ecs/fuzz".into(),
                    stream: format!("ecs/{}/{}", request.container, request.task_id),
                },
                lines: self.0.lines().map(|l| LogLine { timestamp_ms: 0, message: l.to_string() }).collect(),
                omitted: 0,
            },
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let incoming = Incoming::<Batch>::from_document(payload);
    let Ok(events) = task_alert::parse(incoming.clone().into_parts().1) else {
        return;
    };
    let per_protocol = events.len() % 2 == 0;
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", if per_protocol { "per-protocol" } else { "text" }),
        ("CHAT_APP_PAYLOAD", if per_protocol { "true" } else { "false" }),
        ("METRICS_ENABLED", "false"),
    ]))
    .expect("config");
    let published = MemoryPublisher::default();
    let alert = TaskAlert::new(config, EchoLogs(String::from_utf8_lossy(data).into_owned()), &published)
        .expect("alert");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    runtime
        .block_on(invoke(
            &alert,
            incoming,
            &mut Invocation::new(Deadline::after(Duration::from_secs(60)), "fuzz"),
        ))
        .expect("a parsed batch always renders and publishes");
    for m in published.messages() {
        assert!(m.request_bytes() <= SNS_MAX_REQUEST_BYTES);
        assert!(!m.subject.is_empty() && m.subject.len() <= SUBJECT_MAX_CHARS);
        assert!(m.subject.bytes().all(|b| (0x20..0x7f).contains(&b)));
        if per_protocol {
            let body: serde_json::Value = serde_json::from_str(&m.message).expect("per-protocol body is JSON");
            assert!(body["default"].is_string());
        }
    }
});
