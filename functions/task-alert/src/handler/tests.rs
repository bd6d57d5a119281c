//! The invocation end to end with fake log sources and publishers: classification of every
//! sample, grouping, suppression across invocations, the log lookup's budget.

use super::*;
use crate::logs::{LogLine, LogRequest, LogStream};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::invocation::{diagnostic, invoke};
use lookout_shared::publish::MemoryPublisher;
use lookout_shared::state::MemoryStore;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Answers every lookup with the same outcome and records what was asked.
struct FakeLogs {
    answer: Fetched,
    asked: Mutex<Vec<(String, String, String)>>,
    /// What the task definition says of its containers' `essential` flags (unread if `None`).
    essentials: Option<std::collections::HashMap<String, bool>>,
}

impl FakeLogs {
    fn with(logs: LogOutcome) -> Self {
        Self {
            answer: Fetched {
                essential: Some(true),
                logs,
            },
            asked: Mutex::new(Vec::new()),
            essentials: None,
        }
    }
}

impl LogSource for FakeLogs {
    async fn last_lines(&self, request: LogRequest<'_>) -> Fetched {
        self.asked.lock().unwrap().push((
            request.task_definition.family.clone(),
            request.container.to_string(),
            request.task_id.to_string(),
        ));
        self.answer.clone()
    }

    async fn essential_containers(
        &self,
        _: &crate::arn::TaskDefinitionArn,
    ) -> Option<std::collections::HashMap<String, bool>> {
        self.essentials.clone()
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/task-alert/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
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
async fn run<L: LogSource, P: Publisher, S: StateStore>(
    a: &TaskAlert<L, P, S>,
    payload: Value,
) -> Result<Summary, TaskAlertError> {
    run_until(a, payload, Deadline::after(Duration::from_secs(30))).await
}

async fn run_until<L: LogSource, P: Publisher, S: StateStore>(
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
    assert_eq!(
        asked,
        [(
            "worker".to_string(),
            "worker".to_string(),
            "9a1e2d3c4b5a49687f6e5d4c3b2a1908".to_string()
        )]
    );
    assert_eq!(summary.alerts[0].reason, "EssentialContainerExited");

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

#[tokio::test]
async fn a_crash_loop_across_invocations_is_one_alert_then_a_count() {
    // 2025-11-25T18:04:10Z
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
    let a = alert(lines(), &[]).with_state(Some(store));
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
        async fn last_lines(&self, _: LogRequest<'_>) -> Fetched {
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
        async fn last_lines(&self, _: LogRequest<'_>) -> Fetched {
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
        &[("MESSAGE_FORMAT", "per-protocol"), ("CHAT_APP_PAYLOAD", "true")],
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
