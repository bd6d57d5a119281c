//! The soak harness (issue 20): one warm process per function driven through many invocations
//! with the state table on, against [`AwsStub`] (instant DynamoDB, SNS, ECS, Logs and ECR), so
//! the figure is the function's own memory, not an emulator's latency. Peak RSS (VmHWM) is
//! read after the warm-up and at the end; growth between them is what a long-lived container
//! would leak.

use crate::aws_stub::AwsStub;
use crate::events::{data_message, subscription_event};
use crate::runtime_api::{Function, Outcome};
use crate::workspace::{binary, event_file};
use serde_json::Value;

/// The functions that use the state table.
pub const FUNCTIONS: [&str; 4] = ["log-alert", "scan-alert", "task-alert", "ecr-rescan"];

/// Invocations before the first reading: allocator arenas, TLS and connection pools settle.
pub const WARM_UP: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soak {
    pub function: &'static str,
    pub invocations: usize,
    /// Peak RSS after [`WARM_UP`] invocations, KiB.
    pub peak_after_warm_up_kib: u64,
    /// Peak RSS after all of them, KiB.
    pub peak_at_end_kib: u64,
    /// Open file descriptors after the warm-up and at the end.
    pub fds: (usize, usize),
    /// DynamoDB UpdateItem calls the stub answered during the run: proof the table was used.
    pub state_writes: u64,
}

impl Soak {
    pub fn growth_kib(&self) -> u64 {
        self.peak_at_end_kib.saturating_sub(self.peak_after_warm_up_kib)
    }
}

/// Event number `i` for `function`: distinct per invocation (distinct idempotency keys).
fn event(function: &str, i: usize) -> Value {
    let id = format!("5e0c0000-0000-4000-8000-{i:012}");
    let mut event = match function {
        "log-alert" => {
            return subscription_event(&data_message(
                "/ecs/web",
                (0..3).map(|n| {
                    (
                        1_764_093_600_000 + i as i64,
                        format!("ERROR request {i}-{n} failed: upstream timed out"),
                    )
                }),
            ));
        }
        "scan-alert" => event_file("scan-alert/ecr-scan-complete.json"),
        "task-alert" => event_file("task-alert/exit-1.json"),
        "ecr-rescan" => event_file("ecr-rescan/scheduled.json"),
        other => panic!("no soak event for {other}"),
    };
    event["id"] = Value::String(id);
    event
}

fn env(stub: &AwsStub) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", stub.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "soak"),
        ("AWS_SECRET_ACCESS_KEY", "soak"),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("STATE_TABLE", "lookout-state"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Runs `function` warm through `invocations` events (at least [`WARM_UP`] + 1).
pub fn soak(function: &'static str, invocations: usize, stub: &AwsStub) -> Soak {
    assert!(
        invocations > WARM_UP,
        "a soak needs more than {WARM_UP} invocations"
    );
    let process = Function::spawn(&binary(function), &env(stub));
    let writes_before = stub.calls("UpdateItem");
    let (mut peak_after_warm_up_kib, mut fds_after_warm_up) = (0, 0);
    for i in 0..invocations {
        let outcome = process.invoke(&event(function, i));
        if let Outcome::Error {
            error_type,
            error_message,
        } = &outcome
        {
            panic!(
                "{function}: invocation {i} failed: {error_type}: {error_message}\n{}",
                process.output().join("\n")
            );
        }
        if i + 1 == WARM_UP {
            peak_after_warm_up_kib = process.peak_rss_kib().unwrap_or(0);
            fds_after_warm_up = process.open_fds().unwrap_or(0);
        }
    }
    Soak {
        function,
        invocations,
        peak_after_warm_up_kib,
        peak_at_end_kib: process.peak_rss_kib().unwrap_or(0),
        fds: (fds_after_warm_up, process.open_fds().unwrap_or(0)),
        state_writes: stub.calls("UpdateItem") - writes_before,
    }
}
