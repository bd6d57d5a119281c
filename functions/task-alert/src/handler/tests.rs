//! The invocation end to end with fake log sources and publishers: classification of every
//! sample, grouping, suppression across invocations, crash loops and their recoveries, the
//! sidecar's section, the log lookup's budget.

use super::*;
use crate::logs::{LogLine, LogRequest, LogStream};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::invocation::{diagnostic, invoke};
use lookout_shared::member::MemberErrorKind;
use lookout_shared::publish::MemoryPublisher;
use lookout_shared::state::{Fault, Faults, MemoryStore, StateErrorKind};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Answers every lookup with the same outcome (or a container's own) and records what was
/// asked.
struct FakeLogs {
    answer: Fetched,
    /// A container's own lines, instead of `answer`'s.
    by_container: std::collections::HashMap<String, LogOutcome>,
    asked: Mutex<Vec<(String, String, String)>>,
    /// What the task definition says of its containers' `essential` flags (unread if `None`).
    essentials: Option<std::collections::HashMap<String, bool>>,
    /// Accounts whose reader role cannot be assumed, and why.
    refused: std::collections::HashMap<String, MemberErrorKind>,
    /// The readers asked for: account, region and the time the assume was given.
    readers: Mutex<Vec<(String, String, Duration)>>,
}

impl FakeLogs {
    fn with(logs: LogOutcome) -> Self {
        Self {
            answer: Fetched {
                essential: Some(true),
                logs,
            },
            by_container: std::collections::HashMap::new(),
            asked: Mutex::new(Vec::new()),
            essentials: None,
            refused: std::collections::HashMap::new(),
            readers: Mutex::new(Vec::new()),
        }
    }
}

/// What `MemberAccess` says of a role it cannot assume.
fn cannot_assume(account: &str, kind: MemberErrorKind) -> MemberError {
    MemberError {
        role: "LookoutReader".into(),
        account: account.into(),
        kind,
        detail: "injected".into(),
    }
}

impl LogSource for FakeLogs {
    /// The account and region the reads are made in.
    type Reader = (AccountId, Region);

    async fn reader(
        &self,
        account: &AccountId,
        region: &Region,
        timeout: Duration,
    ) -> Result<(AccountId, Region), MemberError> {
        self.readers
            .lock()
            .unwrap()
            .push((account.to_string(), region.to_string(), timeout));
        match self.refused.get(account.as_str()) {
            Some(kind) => Err(cannot_assume(account.as_str(), *kind)),
            None => Ok((account.clone(), region.clone())),
        }
    }

    async fn last_lines(&self, _: &(AccountId, Region), request: LogRequest<'_>) -> Fetched {
        self.asked.lock().unwrap().push((
            request.task_definition.family.clone(),
            request.container.to_string(),
            request.task_id.to_string(),
        ));
        match self.by_container.get(request.container) {
            Some(logs) => Fetched {
                essential: None,
                logs: logs.clone(),
            },
            None => self.answer.clone(),
        }
    }

    async fn essential_containers(
        &self,
        _: &(AccountId, Region),
        _: &crate::arn::TaskDefinitionArn,
    ) -> Option<std::collections::HashMap<String, bool>> {
        self.essentials.clone()
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/task-alert/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// One line in `container`'s stream of the sidecar sample's task.
fn one_line(container: &str, message: &str) -> LogOutcome {
    LogOutcome::Lines {
        stream: LogStream {
            region: lookout_shared::ids::Region::parse("us-east-1").unwrap(),
            group: "/ecs/worker".into(),
            stream: format!("ecs/{container}/9a1e2d3c4b5a49687f6e5d4c3b2a1908"),
        },
        lines: vec![LogLine {
            timestamp_ms: 1_764_093_851_000,
            message: message.into(),
        }],
        omitted: 0,
    }
}

fn lines() -> LogOutcome {
    LogOutcome::Lines {
        stream: LogStream {
            region: lookout_shared::ids::Region::parse("us-east-1").unwrap(),
            group: "/ecs/web-app".into(),
            stream: "ecs/app/5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21".into(),
        },
        lines: vec![
            LogLine {
                timestamp_ms: 1_764_093_849_000,
                message: "allocating cache for 1200000 entries".into(),
            },
            LogLine {
                timestamp_ms: 1_764_093_850_000,
                message: "connecting with password=hunter2".into(),
            },
        ],
        omitted: 0,
    }
}

fn alert(logs: LogOutcome, extra: &[(&str, &str)]) -> TaskAlert<FakeLogs, MemoryPublisher> {
    let mut pairs = vec![
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ];
    pairs.extend_from_slice(extra);
    let config = TaskAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
    TaskAlert::new(config, FakeLogs::with(logs), MemoryPublisher::default()).unwrap()
}

/// One invocation through the skeleton, 30 s before its deadline.
async fn run<L: LogSource, P: Publisher, S: StateStore + Notes>(
    a: &TaskAlert<L, P, S>,
    payload: Value,
) -> Result<Summary, TaskAlertError> {
    run_until(a, payload, Deadline::after(Duration::from_secs(30))).await
}

async fn run_until<L: LogSource, P: Publisher, S: StateStore + Notes>(
    a: &TaskAlert<L, P, S>,
    payload: Value,
    deadline: Deadline,
) -> Result<Summary, TaskAlertError> {
    invoke(
        a,
        Incoming::from_document(payload),
        &mut Invocation::new(deadline, "test-request"),
    )
    .await
}

/// Every sample: alert or not, the reason, the severity, whether log lines were looked up.
#[tokio::test]
async fn every_sample_is_classified() {
    // (sample, (reason, severity) of the alert or none, whether log lines were looked up)
    type Row = (&'static str, Option<(&'static str, &'static str)>, bool);
    let table: [Row; 13] = [
        ("oom-killed.json", Some(("OutOfMemory", "ERROR")), true),
        ("exit-1.json", Some(("EssentialContainerExited", "ERROR")), true),
        ("cannot-pull.json", Some(("ImagePullFailed", "ERROR")), false),
        (
            "secrets-unavailable.json",
            Some(("SecretsUnavailable", "ERROR")),
            false,
        ),
        (
            "elb-health-check.json",
            Some(("ElbHealthCheckFailed", "ERROR")),
            true,
        ),
        (
            "spot-interruption.json",
            Some(("SpotInterruption", "WARNING")),
            true,
        ),
        ("scale-in.json", None, false),
        ("deployment-replacement.json", None, false),
        ("user-stop.json", None, false),
        (
            "non-awslogs.json",
            Some(("EssentialContainerExited", "ERROR")),
            true,
        ),
        (
            "deployment-failed.json",
            Some(("DeploymentFailed", "CRITICAL")),
            false,
        ),
        (
            "placement-failure.json",
            Some(("TaskPlacementFailed", "ERROR")),
            false,
        ),
        ("task-retirement.json", Some(("TaskRetirement", "WARNING")), false),
    ];
    for (file, expected, looked_up) in table {
        let a = alert(lines(), &[]);
        let summary = run(&a, sample(file)).await.unwrap();
        let published = a.publisher().messages();
        match expected {
            None => {
                assert!(published.is_empty(), "{file}");
                assert_eq!(summary.expected_stops.values().sum::<usize>(), 1, "{file}");
            }
            Some((reason, severity)) => {
                assert_eq!(published.len(), 1, "{file}");
                let attr = |n: &str| {
                    published[0]
                        .attributes
                        .iter()
                        .find(|x| x.name == n)
                        .map(|x| x.value_string())
                };
                assert_eq!(attr("reason").as_deref(), Some(reason), "{file}");
                assert_eq!(attr("severity").as_deref(), Some(severity), "{file}");
                assert_eq!(summary.alerts[0].reason, reason);
            }
        }
        assert_eq!(!a.logs.asked.lock().unwrap().is_empty(), looked_up, "{file}");
    }
}

#[tokio::test]
async fn the_oom_alert_carries_redacted_lines_links_and_attributes() {
    let a = alert(lines(), &[]);
    run(&a, sample("oom-killed.json")).await.unwrap();
    assert_eq!(
        a.logs.asked.lock().unwrap().as_slice(),
        [(
            "web-app".to_string(),
            "app".to_string(),
            "5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21".to_string()
        )]
    );
    let m = &a.publisher().messages()[0];
    assert_eq!(
        m.subject,
        "[ERROR] web: killed: out of memory (app exit 137) in prod"
    );
    let attr = |n: &str| {
        m.attributes
            .iter()
            .find(|x| x.name == n)
            .map(|x| x.value_string())
    };
    assert_eq!(attr("service").as_deref(), Some("web"));
    assert_eq!(attr("cluster").as_deref(), Some("prod"));
    let t = &m.message;
    assert!(t.contains("  | allocating cache for 1200000 entries\n"), "{t}");
    assert!(t.contains("password=[REDACTED]") && !t.contains("hunter2"), "{t}");
    assert!(t.contains("1 secret redacted"), "{t}");
    assert!(
        t.contains("Container reason:  \"OutOfMemoryError: Container killed due to memory usage\""),
        "{t}"
    );
    assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21/configuration?region=us-east-1"), "{t}");
    assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/health?region=us-east-1"), "{t}");
    assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/task-definitions/web-app/1/containers?region=us-east-1"), "{t}");
    // Stopped 2025-11-25T18:04:10.512Z: the stream opens ten minutes before.
    assert!(t.contains("log-events/ecs$252Fapp$252F5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21$3Fstart$3D1764093250512$26end$3D1764093910512"), "{t}");
    assert!(t.contains("logs-insights$3FqueryDetail$3D"), "{t}");
}

/// Issue 22 §4: the essential `worker` exited 1, then ECS stopped the non-essential sidecar
/// `envoy` (143), listed first. The worker is blamed, and its logs read.
#[tokio::test]
async fn the_essential_container_is_blamed_not_the_sidecar_stopped_after_it() {
    let mut event = sample("exit-1.json");
    let worker = event["detail"]["containers"][0].clone();
    let mut envoy = worker.clone();
    envoy["name"] = json!("envoy");
    envoy["exitCode"] = json!(143);
    envoy["runtimeId"] = json!("9a1e2d3c4b5a49687f6e5d4c3b2a1908-envoy");
    event["detail"]["containers"] = json!([envoy, worker]);
    let blamed = |essentials: Option<&[(&str, bool)]>| {
        let mut a = alert(lines(), &[]);
        a.logs.essentials = essentials.map(|e| e.iter().map(|(n, v)| (n.to_string(), *v)).collect());
        a.logs
            .by_container
            .insert("envoy".into(), one_line("envoy", "caught SIGTERM, shutting down"));
        a
    };

    let a = blamed(Some(&[("envoy", false), ("worker", true)]));
    let summary = run(&a, event.clone()).await.unwrap();
    let m = &a.publisher().messages()[0];
    assert_eq!(
        m.subject,
        "[ERROR] worker: essential container exited (worker exit 1) in prod"
    );
    let asked = a.logs.asked.lock().unwrap().clone();
    let task = "9a1e2d3c4b5a49687f6e5d4c3b2a1908".to_string();
    // The worker's lines first; envoy's only as the second section.
    assert_eq!(
        asked,
        [
            ("worker".to_string(), "worker".to_string(), task.clone()),
            ("worker".to_string(), "envoy".to_string(), task)
        ]
    );
    assert_eq!(summary.alerts[0].reason, "EssentialContainerExited");
    // Issue 22 §4: the sidecar's lines as a second section, after the worker's.
    assert_eq!(summary.alerts[0].sidecar_logs, Some("shown"));
    let t = &m.message;
    let worker = t.find("  | allocating cache for 1200000 entries\n").unwrap();
    let section = t
        .find("Last 1 log line of sidecar \"envoy\" (not essential, exit code 143; log group \"/ecs/worker\", stream \"ecs/envoy/9a1e2d3c4b5a49687f6e5d4c3b2a1908\"; oldest first):\n")
        .unwrap_or_else(|| panic!("{t}"));
    assert!(worker < section, "{t}");
    assert!(
        t[section..].contains("  | caught SIGTERM, shutting down\n"),
        "{t}"
    );

    // Without the task definition, the order of the event decides, as before.
    let a = blamed(None);
    run(&a, event).await.unwrap();
    assert_eq!(
        a.publisher().messages()[0].subject,
        "[ERROR] worker: essential container exited (envoy exit 143) in prod"
    );
}

/// Issue 22 §5: a deployment failure is dated by the deployment's `updatedAt`; without a
/// valid one, by the event's time.
#[tokio::test]
async fn a_deployment_failure_is_dated_when_the_deployment_changed() {
    let mut event = sample("deployment-failed.json");
    event["time"] = json!("2025-11-25T18:40:00Z");
    let a = alert(lines(), &[]);
    run(&a, event.clone()).await.unwrap();
    let t = &a.publisher().messages()[0].message;
    assert!(t.contains("2025-11-25T18:35:01.822Z"), "{t}");
    assert!(!t.contains("2025-11-25T18:40:00"), "{t}");
    for updated in [json!("yesterday"), Value::Null] {
        event["detail"]["updatedAt"] = updated;
        let a = alert(lines(), &[]);
        run(&a, event.clone()).await.unwrap();
        let t = &a.publisher().messages()[0].message;
        assert!(t.contains("2025-11-25T18:40:00.000Z"), "{t}");
    }
}

#[tokio::test]
async fn missing_log_lines_are_explained() {
    let a = alert(
        LogOutcome::NotAwslogs {
            driver: "awsfirelens".into(),
        },
        &[],
    );
    run(&a, sample("non-awslogs.json")).await.unwrap();
    let t = &a.publisher().messages()[0].message;
    assert!(
        t.contains("logs with the \"awsfirelens\" driver, not awslogs: its logs are elsewhere"),
        "{t}"
    );
    let a = alert(lines(), &[]);
    run(&a, sample("cannot-pull.json")).await.unwrap();
    let t = &a.publisher().messages()[0].message;
    assert!(
        t.contains("never started (image pull failed), so it wrote no log lines"),
        "{t}"
    );
    assert!(!t.contains("  | "), "{t}");
}

fn with_task(mut event: Value, id: &str, version: u64, stopped: &str) -> Value {
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}");
    event["detail"]["taskArn"] = json!(arn);
    event["detail"]["version"] = json!(version);
    event["detail"]["stoppedAt"] = json!(stopped);
    event
}

#[tokio::test]
async fn a_crash_loop_in_one_batch_is_one_alert_and_stale_versions_are_dropped() {
    let oom = sample("oom-killed.json");
    let batch = json!([
        with_task(
            oom.clone(),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
            6,
            "2025-11-25T18:01:00.000Z"
        ),
        with_task(
            oom.clone(),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
            6,
            "2025-11-25T18:03:00.000Z"
        ),
        with_task(
            oom.clone(),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3",
            6,
            "2025-11-25T18:02:00.000Z"
        ),
        // The same task again, older and identical: neither counts twice.
        with_task(
            oom.clone(),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
            4,
            "2025-11-25T18:01:00.000Z"
        ),
        with_task(
            oom,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
            6,
            "2025-11-25T18:03:00.000Z"
        ),
        sample("exit-1.json"),
    ]);
    let a = alert(lines(), &[]);
    let summary = run(&a, batch).await.unwrap();
    assert_eq!((summary.stale_events, summary.duplicate_events), (1, 1));
    let published = a.publisher().messages();
    assert_eq!(
        published.len(),
        2,
        "one alert for the web crash loop, one for the worker"
    );
    assert_eq!(
        published[0].subject,
        "[ERROR] web: 3 tasks: killed: out of memory (app exit 137) in prod"
    );
    assert_eq!(summary.alerts[0].tasks, 3);
    // The newest stop's logs were read, once.
    let asked = a.logs.asked.lock().unwrap().clone();
    assert_eq!(asked.iter().filter(|(f, _, _)| f == "web-app").count(), 1);
    assert_eq!(asked[0].2, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2");
    assert!(
        published[0]
            .message
            .contains("3 tasks of this service stopped for the same reason")
    );
}

/// Epoch seconds the test moves by hand.
#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicU64>);

impl lookout_shared::state::Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// With crash-loop alerts off (`CRASH_LOOP_STOPS=0`), repeats are only counted.
#[tokio::test]
async fn a_crash_loop_across_invocations_is_one_alert_then_a_count() {
    // 2025-11-25T18:04:10Z
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
    let a = alert(lines(), &[("CRASH_LOOP_STOPS", "0")]).with_state(Some(store));
    let stop = |id: &str| {
        with_task(
            sample("oom-killed.json"),
            &format!("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb{id}"),
            6,
            "2025-11-25T18:04:10.512Z",
        )
    };
    let outcomes = [
        run(&a, stop("1")).await.unwrap(),
        run(&a, stop("2")).await.unwrap(),
        run(&a, stop("3")).await.unwrap(),
    ]
    .map(|s| s.alerts[0].outcome);
    assert_eq!(
        outcomes,
        [Outcome::Published, Outcome::Suppressed, Outcome::Suppressed]
    );
    assert_eq!(a.publisher().messages().len(), 1);
    // Lambda's retry of the first event: already delivered, not sent again.
    let retry = run(&a, stop("1")).await.unwrap();
    assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
    // Another service's crash is news of its own.
    let other = run(&a, sample("exit-1.json")).await.unwrap();
    assert_eq!(other.alerts[0].outcome, Outcome::Published);
    // After the 15-minute window, the next stop goes out with the count.
    clock.0.store(1_764_093_850 + 16 * 60, Ordering::SeqCst);
    let next = run(&a, stop("4")).await.unwrap();
    assert_eq!(next.alerts[0].outcome, Outcome::Published);
    assert_eq!(next.alerts[0].suppressed_before, Some(2));
    let published = a.publisher().messages();
    assert_eq!(published.len(), 3);
    let t = &published[2].message;
    assert!(
        t.contains("\nSuppressed:    2 similar alerts suppressed since 2025-11-25T18:04:10.000Z (SUPPRESS_WINDOW_MINUTES)\n"),
        "{t}"
    );
    assert!(!published[0].message.contains("suppressed since"));
}

/// SNS failing the first publish, then accepting.
#[derive(Debug, Default)]
struct FailsOnce {
    calls: std::sync::atomic::AtomicUsize,
    sent: MemoryPublisher,
}

impl Publisher for FailsOnce {
    async fn publish(
        &self,
        message: &lookout_shared::notification::SnsMessage,
    ) -> Result<String, lookout_shared::publish::PublishError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(lookout_shared::publish::PublishError::Failed {
                topic: "alerts".into(),
                code: Some("InternalError".into()),
                detail: "injected".into(),
            });
        }
        self.sent.publish(message).await
    }
}

#[tokio::test]
async fn a_failed_publish_is_retried_at_once_and_then_never_repeated() {
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ]))
    .unwrap();
    let a = TaskAlert::new(config, FakeLogs::with(lines()), FailsOnce::default())
        .unwrap()
        .with_state(Some(MemoryStore::new(Duration::from_secs(24 * 3600), clock)));
    let err = run(&a, sample("oom-killed.json")).await.unwrap_err();
    assert_eq!(diagnostic(&err).error_type, "Lookout.PublishFailed");
    // Lambda's retry, before the first attempt's claim would have expired: it takes over
    // (the claim was marked failed), and is not suppressed by the window it opened.
    let retry = run(&a, sample("oom-killed.json")).await.unwrap();
    assert_eq!(retry.alerts[0].outcome, Outcome::Published);
    let again = run(&a, sample("oom-killed.json")).await.unwrap();
    assert_eq!(again.alerts[0].outcome, Outcome::AlreadyDelivered);
    assert_eq!(a.publisher().sent.messages().len(), 1);
}

#[tokio::test]
async fn a_newer_stale_order_keeps_the_newest_state() {
    let mut running = sample("oom-killed.json");
    running["detail"]["lastStatus"] = json!("RUNNING");
    running["detail"]["version"] = json!(3);
    let batch = json!([sample("oom-killed.json"), running]);
    let a = alert(lines(), &[]);
    let summary = run(&a, batch).await.unwrap();
    assert_eq!(summary.stale_events, 1);
    assert_eq!(
        a.publisher().messages().len(),
        1,
        "the RUNNING event is older (version 3 < 6)"
    );
}

#[tokio::test]
async fn malformed_events_fail_with_a_named_error() {
    let a = alert(lines(), &[]);
    let mut e = sample("oom-killed.json");
    e["detail"]["containers"][0]["exitCode"] = json!("137; DROP TABLE");
    let err = run(&a, e).await.unwrap_err();
    assert_eq!(err.kind(), "InvalidEvent");
    let d = diagnostic(&err);
    assert_eq!(d.error_type, "Lookout.InvalidEvent");
    assert_eq!(
        d.error_message,
        "the event is not an EventBridge event task-alert can read: a field has the wrong type or value"
    );
    let mut e = sample("oom-killed.json");
    e["detail"]["taskDefinitionArn"] = json!("arn:aws:ecs:us-east-1:123456789012:task-definition/x");
    let d = diagnostic(&run(&a, e).await.unwrap_err());
    assert_eq!(
        d.error_message,
        "event field detail.taskDefinitionArn is not an ECS task definition ARN"
    );
    assert!(a.publisher().messages().is_empty());
}

#[tokio::test]
async fn a_stop_without_containers_says_there_is_nothing_to_look_up() {
    let mut spot = sample("spot-interruption.json");
    spot["detail"]["containers"] = json!([]);
    let a = alert(lines(), &[]);
    let summary = run(&a, spot).await.unwrap();
    assert_eq!(summary.alerts[0].logs, Some("noContainer"));
    assert!(a.logs.asked.lock().unwrap().is_empty());
    assert!(
        a.publisher().messages()[0]
            .message
            .contains("The event lists no container")
    );
}

#[tokio::test]
async fn spot_severity_is_configurable() {
    let a = alert(lines(), &[("SPOT_SEVERITY", "NOTICE")]);
    run(&a, sample("spot-interruption.json")).await.unwrap();
    assert!(
        a.publisher().messages()[0]
            .subject
            .starts_with("[NOTICE] worker: Spot interruption")
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_log_lookup_gives_way_to_the_deadline() {
    struct Slow;
    impl LogSource for Slow {
        type Reader = ();
        async fn reader(&self, _: &AccountId, _: &Region, _: Duration) -> Result<(), MemberError> {
            Ok(())
        }
        async fn last_lines(&self, _: &(), _: LogRequest<'_>) -> Fetched {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Fetched {
                essential: None,
                logs: LogOutcome::NoLogConfiguration,
            }
        }
    }
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ]))
    .unwrap();
    let a = TaskAlert::new(config, Slow, MemoryPublisher::default()).unwrap();
    let summary = run_until(
        &a,
        sample("oom-killed.json"),
        Deadline::after(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(summary.alerts[0].logs, Some("timedOut"));
    assert!(
        a.publisher().messages()[0]
            .message
            .contains("would have run past the Lambda deadline")
    );
}
#[tokio::test]
async fn a_suppressed_repeat_or_a_delivered_retry_reads_no_log_lines() {
    // 2025-11-25T18:04:10Z
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock);
    let a = alert(lines(), &[]).with_state(Some(store));
    let stop = |id: &str| {
        with_task(
            sample("oom-killed.json"),
            &format!("ccccccccccccccccccccccccccccccc{id}"),
            6,
            "2025-11-25T18:04:10.512Z",
        )
    };
    let first = run(&a, stop("1")).await.unwrap();
    assert_eq!(first.alerts[0].outcome, Outcome::Published);
    assert_eq!(first.alerts[0].logs, Some("shown"));
    assert_eq!(a.logs.asked.lock().unwrap().len(), 1);
    let repeat = run(&a, stop("2")).await.unwrap();
    assert_eq!(repeat.alerts[0].outcome, Outcome::Suppressed);
    assert_eq!(repeat.alerts[0].logs, Some("notRead"));
    let retry = run(&a, stop("1")).await.unwrap();
    assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
    assert_eq!(
        a.logs.asked.lock().unwrap().len(),
        1,
        "only the alert that was sent looked its log lines up"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_log_lines_leave_a_slow_publish_its_time() {
    /// CloudWatch Logs that never answers.
    struct Hung;
    impl LogSource for Hung {
        type Reader = ();
        async fn reader(&self, _: &AccountId, _: &Region, _: Duration) -> Result<(), MemberError> {
            Ok(())
        }
        async fn last_lines(&self, _: &(), _: LogRequest<'_>) -> Fetched {
            std::future::pending().await
        }
    }
    /// SNS that answers after 6 s.
    #[derive(Default)]
    struct SlowSns(MemoryPublisher);
    impl Publisher for SlowSns {
        async fn publish(
            &self,
            message: &lookout_shared::notification::SnsMessage,
        ) -> Result<String, lookout_shared::publish::PublishError> {
            tokio::time::sleep(Duration::from_secs(6)).await;
            self.0.publish(message).await
        }
    }
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ]))
    .unwrap();
    let a = TaskAlert::new(config, Hung, SlowSns::default()).unwrap();
    let started = tokio::time::Instant::now();
    // 15 s: the lookup may take 5 of them (its cap), leaving the publish 9.5 before the
    // 500 ms margin. Before, it took all but 2 s, and the publish ran out of time.
    let summary = run_until(
        &a,
        sample("oom-killed.json"),
        Deadline::after(Duration::from_secs(15)),
    )
    .await
    .unwrap();
    assert_eq!(summary.alerts[0].outcome, Outcome::Published);
    assert_eq!(summary.alerts[0].logs, Some("timedOut"));
    assert_eq!(started.elapsed(), Duration::from_secs(5 + 6));
    assert_eq!(a.publisher().0.messages().len(), 1);
}

/// The outbox counts `PublishFailures`; the function no longer counts it a second time.
#[tokio::test]
async fn a_failed_publish_counts_one_publish_failure() {
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ]))
    .unwrap();
    let metrics = config.metrics.clone();
    let a = TaskAlert::new(config, FakeLogs::with(lines()), FailsOnce::default()).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "test-request");
    let err = invoke(&a, Incoming::from_document(sample("oom-killed.json")), &mut ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "PublishFailed");
    let emf = ctx.metrics.to_emf(&metrics, 0).unwrap();
    assert_eq!(emf["PublishFailures"], 1);
    assert_eq!(
        emf["LogLinesShown"], 2,
        "the lookup is counted even when the publish fails"
    );
    assert!(emf.get("AlertsPublished").is_none(), "{emf}");
}

/// The renderer places the repeats held back before an alert in every body: a line after the
/// subject in the text, `suppressed` in the JSON document, the first line of the chat message.
#[tokio::test]
async fn suppressed_repeats_are_stated_in_every_body() {
    // 2025-11-25T18:04:10Z
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
    let a = alert(
        lines(),
        &[
            ("MESSAGE_FORMAT", "per-protocol"),
            ("CHAT_APP_PAYLOAD", "true"),
            ("CRASH_LOOP_STOPS", "0"),
        ],
    )
    .with_state(Some(store));
    let stop = |id: &str| {
        with_task(
            sample("oom-killed.json"),
            &format!("ddddddddddddddddddddddddddddddd{id}"),
            6,
            "2025-11-25T18:04:10.512Z",
        )
    };
    for id in ["1", "2", "3"] {
        run(&a, stop(id)).await.unwrap();
    }
    clock.0.store(1_764_093_850 + 16 * 60, Ordering::SeqCst);
    let next = run(&a, stop("4")).await.unwrap();
    assert_eq!(next.alerts[0].suppressed_before, Some(2));
    let published = a.publisher().messages();
    assert_eq!(published.len(), 2);
    let body: Value = serde_json::from_str(&published[1].message).unwrap();
    let since = "2025-11-25T18:04:10.000Z";
    let text = body["default"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "{}\n\nSuppressed:    2 similar alerts suppressed since {since} (SUPPRESS_WINDOW_MINUTES)\nWhat:",
            published[1].subject
        )),
        "{text}"
    );
    let doc: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(doc["suppressed"], json!({"count": 2, "since": since}));
    let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("_2 similar alerts suppressed since {since}._\n*ERROR* ")),
        "{description}"
    );
    // The first alert had nothing before it.
    let first: Value = serde_json::from_str(&published[0].message).unwrap();
    let first_doc: Value = serde_json::from_str(first["sqs"].as_str().unwrap()).unwrap();
    assert!(first_doc.get("suppressed").is_none());
}

/// 2025-11-25T18:04:10Z: the oom-killed sample's minute.
const T0: u64 = 1_764_093_850;

fn memory_store(clock: &TestClock) -> MemoryStore<TestClock> {
    MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone())
}

/// The oom-killed sample as stop `n` of web, stopped at `at` (epoch s) plus 512 ms.
fn web_stop(n: u64, at: u64) -> Value {
    let stopped = lookout_shared::time::iso8601_ms(i64::try_from(at * 1_000 + 512).unwrap());
    with_task(
        sample("oom-killed.json"),
        &format!("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee{n}"),
        6,
        &stopped,
    )
}

/// The per-protocol bodies of a published message: text, the JSON document, the chat payload.
fn bodies(m: &lookout_shared::notification::SnsMessage) -> (String, Value, Value) {
    let body: Value = serde_json::from_str(&m.message).unwrap();
    let doc = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
    let chat = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
    (body["default"].as_str().unwrap().to_string(), doc, chat)
}

/// Issue 22 §4: five stops of one service in separate invocations. The first is alerted, the
/// third (CRASH_LOOP_STOPS, default 3) is sent once as a "crash loop" alert with the number of
/// stops and the time span, the others are suppressed; the next steady state resolves it.
#[tokio::test]
async fn five_stops_alert_once_then_name_the_crash_loop_at_the_third() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let a = alert(
        lines(),
        &[("MESSAGE_FORMAT", "per-protocol"), ("CHAT_APP_PAYLOAD", "true")],
    )
    .with_state(Some(memory_store(&clock)));
    let mut outcomes = Vec::new();
    for n in 1..=5 {
        let at = T0 + (n - 1) * 60;
        clock.0.store(at, Ordering::SeqCst);
        let summary = run(&a, web_stop(n, at)).await.unwrap();
        let crash_loop = summary.alerts[0].crash_loop;
        assert_eq!(crash_loop.is_some(), n == 3, "stop {n}");
        outcomes.push(summary.alerts[0].outcome);
    }
    use Outcome::{Published, Suppressed};
    assert_eq!(
        outcomes,
        [Published, Suppressed, Published, Suppressed, Suppressed]
    );
    let published = a.publisher().messages();
    assert_eq!(published.len(), 2);
    assert!(
        !published[0].subject.contains("loop"),
        "the first alert is not a loop"
    );
    assert_eq!(
        published[1].subject,
        "[ERROR] web: crash loop, 3 stops in 2m 0s: killed: out of memory (app exit 137) in prod"
    );
    let (text, doc, chat) = bodies(&published[1]);
    let since = "2025-11-25T18:04:10.000Z";
    assert!(
        text.contains(&format!("\nCrash loop:        3 stops for the same reason since {since} (2m 0s); further stops stay suppressed")),
        "{text}"
    );
    assert_eq!(doc["loop"], json!({"stops": 3, "since": since}));
    assert_eq!(doc["summary"], published[1].subject);
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!(
            "_Crash loop: 3 stops for the same reason since {since} (2m 0s)._\n"
        )),
        "{description}"
    );
    // Lambda's retry of the third stop: delivered, not a second crash-loop alert.
    let retry = run(&a, web_stop(3, T0 + 120)).await.unwrap();
    assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
    assert_eq!(a.publisher().messages().len(), 2);

    // The service is steady at 18:47:04.311: the crash loop is resolved, once.
    let steady = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(steady.recoveries.get(&Recovered::Resolved), Some(&1));
    assert!(steady.alerts[0].resolved);
    let published = a.publisher().messages();
    assert_eq!(published.len(), 3);
    assert_eq!(
        published[2].subject,
        "[RESOLVED] web: crash loop, steady after 42m 54s in prod"
    );
    let (text, doc, _) = bodies(&published[2]);
    assert!(
        text.contains(
            "Resolves:          crash loop (OutOfMemory, 3 stops, ERROR) at 2025-11-25T18:06:10.512Z\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("Open alert:        \"{}\"\n", published[1].subject)),
        "{text}"
    );
    assert_eq!(doc["status"], "RESOLVED");
    assert_eq!(doc["resolves"]["kind"], "crashLoop");
    assert_eq!(doc["resolves"]["stops"], 3);
    assert_eq!(doc["failingSince"], since);
    assert_eq!(doc["failingForSeconds"], 2574);
}

/// Issue 22 §4: a failed deployment, then SERVICE_STEADY_STATE: one `[RESOLVED]` message that
/// names it and how long the service was failing. A retry of the steady-state event sends
/// nothing more, nor does the next steady state; a later failure is resolved by its
/// SERVICE_DEPLOYMENT_COMPLETED.
#[tokio::test]
async fn a_failed_deployment_is_resolved_once_by_the_next_steady_state() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let a = alert(lines(), &[]).with_state(Some(memory_store(&clock)));
    run(&a, sample("deployment-failed.json")).await.unwrap();
    let steady = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(steady.recoveries.get(&Recovered::Resolved), Some(&1));
    let summary = serde_json::to_value(&steady).unwrap();
    assert_eq!(summary["recoveries"], json!({"resolved": 1}));
    assert_eq!(summary["alerts"][0]["resolved"], true);
    assert_eq!(summary["alerts"][0]["reason"], "DeploymentFailed");
    let published = a.publisher().messages();
    assert_eq!(published.len(), 2);
    let resolved = &published[1];
    assert_eq!(
        resolved.subject,
        "[RESOLVED] web: deployment failed, steady after 12m 2s in prod"
    );
    let attr = |n: &str| {
        resolved
            .attributes
            .iter()
            .find(|x| x.name == n)
            .map(|x| x.value_string())
    };
    assert_eq!(attr("status").as_deref(), Some("RESOLVED"));
    assert_eq!(attr("severity").as_deref(), Some("CRITICAL"));
    assert_eq!(attr("reason").as_deref(), Some("DeploymentFailed"));
    let t = &resolved.message;
    for line in [
        "What:              Service \"web\" is steady again (SERVICE_STEADY_STATE)\n",
        "Resolves:          deployment failed (DeploymentFailed, CRITICAL) at 2025-11-25T18:35:01.822Z\n",
        "Open alert:        \"[CRITICAL] web: deployment failed in prod\"\n",
        "Deployment:        \"ecs-svc/4317364939842123956\"\n",
        "Failing since:     2025-11-25T18:35:01.822Z\n",
        "Steady at (UTC):   2025-11-25T18:47:04.311Z\n",
        "Failing for:       12m 2s\n",
    ] {
        assert!(t.contains(line), "{line}\n{t}");
    }
    // Lambda's retry of the steady-state event: the same settlement, the message once.
    let retry = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
    // ECS repeats SERVICE_STEADY_STATE: nothing left to resolve.
    let mut again = sample("steady-state.json");
    again["id"] = json!("5f7c1d2e-8a3b-4c6d-9e0f-000000000002");
    let again = run(&a, again).await.unwrap();
    assert_eq!(again.recoveries.get(&Recovered::AlreadyResolved), Some(&1));
    assert!(again.alerts.is_empty());
    assert_eq!(a.publisher().messages().len(), 2);

    // After the window, the deployment fails again and a deployment completes.
    clock.0.store(T0 + 16 * 60, Ordering::SeqCst);
    let mut failed = sample("deployment-failed.json");
    failed["id"] = json!("ddca6449-b258-46c0-8653-000000000002");
    failed["detail"]["updatedAt"] = json!("2025-11-25T18:50:00.000Z");
    run(&a, failed).await.unwrap();
    let completed = run(&a, sample("deployment-completed.json")).await.unwrap();
    assert_eq!(completed.recoveries.get(&Recovered::Resolved), Some(&1));
    let published = a.publisher().messages();
    assert_eq!(published.len(), 4);
    assert_eq!(
        published[3].subject,
        "[RESOLVED] web: deployment failed, steady after 2m 11s in prod"
    );
    assert!(published[3].message.contains("(SERVICE_DEPLOYMENT_COMPLETED)"));
}

#[tokio::test]
async fn a_steady_service_without_an_open_alert_says_nothing() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let a = alert(lines(), &[]).with_state(Some(memory_store(&clock)));
    // Another service's failure is not this one's.
    run(&a, sample("placement-failure.json")).await.unwrap();
    for file in ["steady-state.json", "deployment-completed.json"] {
        let summary = run(&a, sample(file)).await.unwrap();
        assert_eq!(
            summary.recoveries.get(&Recovered::NoOpenAlert),
            Some(&1),
            "{file}"
        );
        assert!(summary.alerts.is_empty(), "{file}");
    }
    assert_eq!(a.publisher().messages().len(), 1);
    // Without a state table, nothing is kept, so nothing is resolved.
    let a = alert(lines(), &[]);
    run(&a, sample("deployment-failed.json")).await.unwrap();
    let summary = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(summary.recoveries.get(&Recovered::NoStateTable), Some(&1));
    assert_eq!(a.publisher().messages().len(), 1);
}

/// A steady state from before the failure (EventBridge delivers late) resolves nothing.
#[tokio::test]
async fn a_steady_state_older_than_the_alert_resolves_nothing() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let a = alert(lines(), &[]).with_state(Some(memory_store(&clock)));
    run(&a, sample("deployment-failed.json")).await.unwrap();
    let mut early = sample("steady-state.json");
    early["detail"]["createdAt"] = json!("2025-11-25T18:30:00.000Z");
    let summary = run(&a, early).await.unwrap();
    assert_eq!(summary.recoveries.get(&Recovered::OlderThanAlert), Some(&1));
    // The open alert is still there for the real recovery.
    let summary = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(summary.recoveries.get(&Recovered::Resolved), Some(&1));
}

/// An alert whose publish failed left an unconfirmed note: not resolved. Its retry publishes
/// and confirms it.
#[tokio::test]
async fn an_alert_never_delivered_is_never_resolved() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ]))
    .unwrap();
    let a = TaskAlert::new(config, FakeLogs::with(lines()), FailsOnce::default())
        .unwrap()
        .with_state(Some(memory_store(&clock)));
    run(&a, sample("deployment-failed.json")).await.unwrap_err();
    let summary = run(&a, sample("steady-state.json")).await.unwrap();
    assert_eq!(summary.recoveries.get(&Recovered::AlertUnconfirmed), Some(&1));
    assert!(a.publisher().sent.messages().is_empty());
    run(&a, sample("deployment-failed.json")).await.unwrap();
    let mut steady = sample("steady-state.json");
    steady["id"] = json!("5f7c1d2e-8a3b-4c6d-9e0f-000000000002");
    let summary = run(&a, steady).await.unwrap();
    assert_eq!(summary.recoveries.get(&Recovered::Resolved), Some(&1));
    assert_eq!(a.publisher().sent.messages().len(), 2);
}

/// What the table answers when it throttles.
const THROTTLED: Fault = Fault {
    kind: StateErrorKind::Throttled,
    detail: "ThrottlingException: Rate exceeded",
};

/// One invocation, and its `StateStoreProblems`.
async fn run_counting<S: StateStore + Notes>(
    a: &TaskAlert<FakeLogs, MemoryPublisher, S>,
    payload: Value,
) -> (Summary, u64) {
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "test-request");
    let summary = invoke(a, Incoming::from_document(payload), &mut ctx)
        .await
        .unwrap();
    let emf = ctx.metrics.to_emf(&a.config.metrics, 0).unwrap();
    (
        summary,
        emf.get("StateStoreProblems").and_then(Value::as_u64).unwrap_or(0),
    )
}

/// Note problems fail open and are counted. A delivered alert whose note could not be
/// confirmed is confirmed by the retry that finds it delivered.
#[tokio::test]
async fn note_problems_fail_open_and_a_delivered_retry_confirms_the_note() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let store = memory_store(&clock);
    store.set_faults(Faults {
        // The first note is written (unconfirmed), its confirmation fails.
        failing_remembers: vec![(1, THROTTLED)],
        ..Faults::default()
    });
    let a = alert(lines(), &[]).with_state(Some(store));
    let (first, problems) = run_counting(&a, sample("deployment-failed.json")).await;
    assert_eq!((first.alerts[0].outcome, problems), (Outcome::Published, 1));
    let (steady, _) = run_counting(&a, sample("steady-state.json")).await;
    assert_eq!(steady.recoveries.get(&Recovered::AlertUnconfirmed), Some(&1));
    // Lambda's retry of the failure event: already delivered, and now confirmed.
    let (retry, problems) = run_counting(&a, sample("deployment-failed.json")).await;
    assert_eq!(
        (retry.alerts[0].outcome, problems),
        (Outcome::AlreadyDelivered, 0)
    );
    // The table fails: the steady state fails open, counted, nothing sent.
    let store = a.outbox.store().unwrap();
    store.set_faults(Faults {
        failing_notes: Some(THROTTLED),
        ..Faults::default()
    });
    let mut steady = sample("steady-state.json");
    steady["id"] = json!("5f7c1d2e-8a3b-4c6d-9e0f-000000000002");
    let (summary, problems) = run_counting(&a, steady.clone()).await;
    assert_eq!(summary.recoveries.get(&Recovered::StateStoreProblem), Some(&1));
    assert_eq!(problems, 1);
    store.set_faults(Faults::default());
    let (summary, _) = run_counting(&a, steady).await;
    assert_eq!(summary.recoveries.get(&Recovered::Resolved), Some(&1));
    assert_eq!(a.publisher().messages().len(), 2);
}

/// The sidecar's lines go in only when the message fits with them at the blamed container's
/// full detail: here the worker's 14 lines of 16 KB fill most of SNS's 256 KB.
#[tokio::test]
async fn the_sidecar_section_is_left_out_when_it_would_not_fit() {
    let mut event = sample("sidecar-exit.json");
    event["detail"]["containers"][1]["exitCode"] = json!(1);
    let big = |container: &str, n: usize| {
        let LogOutcome::Lines { stream, .. } = one_line(container, "") else {
            unreachable!()
        };
        LogOutcome::Lines {
            stream,
            lines: (0..n)
                .map(|i| LogLine {
                    timestamp_ms: 1_764_093_851_000 + i as i64,
                    message: format!("{i} {}", "x".repeat(16_000)),
                })
                .collect(),
            omitted: 0,
        }
    };
    let mut a = alert(big("worker", 14), &[]);
    a.logs.essentials = Some([("envoy".to_string(), false), ("worker".to_string(), true)].into());
    a.logs.by_container.insert("envoy".into(), big("envoy", 5));
    let summary = run(&a, event.clone()).await.unwrap();
    assert_eq!(summary.alerts[0].sidecar_logs, Some("noRoom"));
    let t = &a.publisher().messages()[0].message;
    assert!(
        t.contains("Last 14 log lines of \"worker\""),
        "the worker's lines whole"
    );
    assert!(!t.contains("sidecar \"envoy\""));
    // With room, it goes in.
    let mut a = alert(big("worker", 2), &[]);
    a.logs.essentials = Some([("envoy".to_string(), false), ("worker".to_string(), true)].into());
    a.logs.by_container.insert("envoy".into(), big("envoy", 5));
    let summary = run(&a, event).await.unwrap();
    assert_eq!(summary.alerts[0].sidecar_logs, Some("shown"));
    assert!(
        a.publisher().messages()[0]
            .message
            .contains("Last 5 log lines of sidecar \"envoy\"")
    );
}

/// `event` as if sent by `account` in `region`: its envelope and every ARN.
fn from(event: Value, account: &str, region: &str) -> Value {
    let text = event
        .to_string()
        .replace("123456789012", account)
        .replace("us-east-1", region);
    serde_json::from_str(&text).unwrap()
}

/// task-alert in organisation mode with `logs`, `extra` settings on top.
fn org_alert(logs: FakeLogs, extra: &[(&str, &str)]) -> TaskAlert<FakeLogs, MemoryPublisher> {
    let mut pairs = vec![
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
        ("MEMBER_ACCOUNTS", "111111111111,222222222222"),
        ("ACCOUNT_NAMES", r#"{"111111111111": "payments-prod"}"#),
    ];
    pairs.extend_from_slice(extra);
    let config = TaskAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
    TaskAlert::new(config, logs, MemoryPublisher::default()).unwrap()
}

/// One invocation, and its EMF document.
async fn run_measured<L: LogSource, S: StateStore + Notes>(
    a: &TaskAlert<L, MemoryPublisher, S>,
    payload: Value,
    deadline: Deadline,
) -> (Summary, Value) {
    let mut ctx = Invocation::new(deadline, "test-request");
    let summary = invoke(a, Incoming::from_document(payload), &mut ctx)
        .await
        .unwrap();
    let emf = ctx.metrics.to_emf(&a.config.metrics, 0).unwrap();
    (summary, emf)
}

/// Issue 24 §4: a member's task stop is read in its account and region (the reader asked for
/// is the event's), and the alert names the account: by its `ACCOUNT_NAMES` name in the
/// Subject, with its id in the text, the JSON document and the `account` attribute. Without
/// `MEMBER_ACCOUNTS` the same event is ignored, as before.
#[tokio::test]
async fn a_members_task_stop_is_read_in_its_account_and_names_it() {
    let stop = from(sample("oom-killed.json"), "111111111111", "eu-west-1");
    let single = alert(lines(), &[]);
    let summary = run(&single, stop.clone()).await.unwrap();
    assert!(single.publisher().messages().is_empty());
    assert_eq!(
        summary.ignored.get("event of another account or region"),
        Some(&1)
    );

    let a = org_alert(FakeLogs::with(lines()), &[]);
    let summary = run(&a, stop).await.unwrap();
    assert_eq!(summary.alerts[0].logs, Some("shown"));
    assert_eq!(summary.alerts[0].account.as_deref(), Some("111111111111"));
    let readers = a.logs.readers.lock().unwrap().clone();
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert_eq!(
        (readers[0].0.as_str(), readers[0].1.as_str()),
        ("111111111111", "eu-west-1")
    );
    // Half of the lookup's 5 s (a 30 s deadline): the reads after it keep the rest.
    assert!(
        readers[0].2 <= Duration::from_millis(2_500) && readers[0].2 > Duration::from_secs(2),
        "{readers:?}"
    );
    let m = &a.publisher().messages()[0];
    assert_eq!(
        m.subject,
        "[ERROR] payments-prod: web: killed: out of memory (app exit 137) in prod"
    );
    assert!(
        m.message
            .contains("\nAccount:           payments-prod (111111111111)\nRegion:            eu-west-1\n"),
        "{}",
        m.message
    );
    let account = m.attributes.iter().find(|x| x.name == "account");
    assert_eq!(account.map(|x| x.value_string()).as_deref(), Some("111111111111"));
    // An account without a name is named by its id; the own account too, in this mode.
    let a = org_alert(FakeLogs::with(lines()), &[]);
    for (account, subject) in [
        ("222222222222", "[ERROR] 222222222222: web: killed"),
        ("123456789012", "[ERROR] 123456789012: web: killed"),
    ] {
        run(&a, from(sample("oom-killed.json"), account, "us-east-1"))
            .await
            .unwrap();
        let published = a.publisher().messages();
        let last = published.last().unwrap();
        assert!(last.subject.starts_with(subject), "{}", last.subject);
        assert!(
            last.message
                .contains(&format!("\nAccount:           {account}\n")),
            "{}",
            last.message
        );
    }
    let doc = {
        let a = org_alert(FakeLogs::with(lines()), &[("MESSAGE_FORMAT", "per-protocol")]);
        run(&a, from(sample("oom-killed.json"), "111111111111", "us-east-1"))
            .await
            .unwrap();
        bodies(&a.publisher().messages()[0]).1
    };
    assert_eq!(
        (&doc["account"], &doc["accountName"]),
        (&json!("111111111111"), &json!("payments-prod"))
    );
}

/// Issue 24 §4: a member whose reader role cannot be assumed still gets its alert, without
/// lines, saying why. The role is asked for once per alert (the essential flags and the
/// lines share it), the failure is counted in `MemberAccessFailures` and `LogLookupFailures`.
#[tokio::test]
async fn a_member_whose_role_cannot_be_assumed_still_alerts_and_says_why() {
    let mut logs = FakeLogs::with(lines());
    logs.refused
        .insert("222222222222".into(), MemberErrorKind::Denied);
    let a = org_alert(logs, &[]);
    let stop = from(sample("sidecar-exit.json"), "222222222222", "us-east-1");
    let (summary, emf) = run_measured(&a, stop, Deadline::after(Duration::from_secs(30))).await;
    assert_eq!(summary.alerts[0].outcome, Outcome::Published);
    assert_eq!(summary.alerts[0].logs, Some("memberUnreachable"));
    assert_eq!(
        a.logs.readers.lock().unwrap().len(),
        1,
        "one AssumeRole for the essential flags and the lines"
    );
    assert!(a.logs.asked.lock().unwrap().is_empty(), "nothing read");
    let m = &a.publisher().messages()[0];
    assert!(
        m.subject.starts_with("[ERROR] 222222222222: worker: "),
        "{}",
        m.subject
    );
    assert!(
        m.message.contains(
            "\nLog lines:\nLast log lines unavailable: cannot assume LookoutReader in 222222222222: access denied (role missing or not trusting this function).\n"
        ),
        "{}",
        m.message
    );
    assert_eq!(emf["MemberAccessFailures"], 1, "{emf}");
    assert_eq!(emf["LogLookupFailures"], 1, "{emf}");
    // Another member is read as usual.
    let (summary, emf) = run_measured(
        &a,
        from(sample("oom-killed.json"), "111111111111", "us-east-1"),
        Deadline::after(Duration::from_secs(30)),
    )
    .await;
    assert_eq!(summary.alerts[0].logs, Some("shown"));
    assert!(emf.get("MemberAccessFailures").is_none(), "{emf}");
}

/// Issue 24 §4: a slow STS gets half of the log lookup's budget (itself at most 5 s and half
/// the time left), then the alert goes out without lines, saying STS did not answer.
#[tokio::test(start_paused = true)]
async fn a_slow_sts_costs_half_the_lookup_budget_and_the_alert_still_goes_out() {
    /// STS that answers after the timeout it is given, as `MemberAccess` then reports it.
    struct SlowSts;
    impl LogSource for SlowSts {
        type Reader = ();
        async fn reader(
            &self,
            account: &AccountId,
            _: &Region,
            timeout: Duration,
        ) -> Result<(), MemberError> {
            tokio::time::sleep(timeout).await;
            Err(cannot_assume(account.as_str(), MemberErrorKind::Timeout))
        }
        async fn last_lines(&self, _: &(), _: LogRequest<'_>) -> Fetched {
            unreachable!("no lines are read without the role")
        }
    }
    let config = TaskAlertConfig::from_env(&Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
        ("MEMBER_ACCOUNTS", "*"),
    ]))
    .unwrap();
    let a = TaskAlert::new(config, SlowSts, MemoryPublisher::default()).unwrap();
    let started = tokio::time::Instant::now();
    let (summary, emf) = run_measured(
        &a,
        from(sample("oom-killed.json"), "333333333333", "us-east-1"),
        Deadline::after(Duration::from_secs(15)),
    )
    .await;
    assert_eq!(started.elapsed(), Duration::from_millis(2_500));
    assert_eq!(summary.alerts[0].outcome, Outcome::Published);
    assert_eq!(summary.alerts[0].logs, Some("memberUnreachable"));
    assert!(
        a.publisher().messages()[0]
            .message
            .contains("cannot assume LookoutReader in 333333333333: STS did not answer in time."),
        "{}",
        a.publisher().messages()[0].message
    );
    assert_eq!(emf["MemberAccessFailures"], 1);
}

/// Issue 24 §4: suppression windows and open alerts are per account: `prod/web` of two member
/// accounts are two services. One's stop does not suppress the other's, and one's steady
/// state does not resolve the other's failed deployment.
#[tokio::test]
async fn the_same_service_in_two_accounts_is_suppressed_and_resolved_apart() {
    let clock = TestClock(Arc::new(AtomicU64::new(T0)));
    let a = org_alert(FakeLogs::with(lines()), &[]).with_state(Some(memory_store(&clock)));
    for account in ["111111111111", "222222222222"] {
        let summary = run(&a, from(web_stop(1, T0), account, "us-east-1"))
            .await
            .unwrap();
        assert_eq!(summary.alerts[0].outcome, Outcome::Published, "{account}");
    }
    let repeat = run(&a, from(web_stop(2, T0 + 60), "111111111111", "us-east-1"))
        .await
        .unwrap();
    assert_eq!(repeat.alerts[0].outcome, Outcome::Suppressed);

    run(
        &a,
        from(sample("deployment-failed.json"), "111111111111", "us-east-1"),
    )
    .await
    .unwrap();
    let other = run(&a, from(sample("steady-state.json"), "222222222222", "us-east-1"))
        .await
        .unwrap();
    assert_eq!(other.recoveries.get(&Recovered::NoOpenAlert), Some(&1));
    let own = run(&a, from(sample("steady-state.json"), "111111111111", "us-east-1"))
        .await
        .unwrap();
    assert_eq!(own.recoveries.get(&Recovered::Resolved), Some(&1));
    let published = a.publisher().messages();
    assert_eq!(
        published.last().unwrap().subject,
        "[RESOLVED] payments-prod: web: deployment failed, steady after 12m 2s in prod"
    );
}
