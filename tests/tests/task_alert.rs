//! task-alert end to end: the binary through the Lambda Runtime API; moto's ECS holds the task
//! definitions, moto's CloudWatch Logs the container's stream, and the alert is read from SQS.

use lookout_tests::Function;
use lookout_tests::ecs::{
    ENVOY_LINES, OOM_TASK, SIDECAR_TASK, WORKER_LINES, web_app_with_oom_logs, worker_with_sidecar,
};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Delivered, Moto, TopicWithQueue};
use lookout_tests::workspace::event_file;
use serde_json::json;
use std::time::Duration;

struct Setup {
    moto: Moto,
    topic: TopicWithQueue,
}

/// moto with web-app:1 (awslogs), payments:1 (FireLens) and the OOM task's last lines.
async fn setup() -> Setup {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "task-alerts", false).await;
    web_app_with_oom_logs(&config).await;
    Setup { moto, topic }
}

fn task_alert(s: &Setup, extra: &[(&str, &str)]) -> Function {
    s.topic.spawn_publisher(&s.moto, "task-alert", extra)
}

async fn one(s: &Setup) -> Delivered {
    s.topic.one().await
}

#[tokio::test]
async fn an_oom_killed_container_alerts_with_its_last_log_lines_and_links() {
    let s = setup().await;
    let function = task_alert(&s, &[("LOG_LINES", "4")]);
    let response = function
        .invoke(&event_file("task-alert/oom-killed.json"))
        .response()
        .clone();
    assert_eq!(response["alerts"][0]["reason"], "OutOfMemory");
    assert_eq!(response["alerts"][0]["logs"], "shown");
    let delivered = one(&s).await;
    assert_eq!(
        delivered.subject(),
        Some("[ERROR] web: killed: out of memory (app exit 137) in prod")
    );
    let doc = delivered.message_json();
    assert_eq!(doc["source"], "lookout.task-alert");
    assert_eq!(doc["service"], "web");
    assert_eq!(doc["cluster"], "prod");
    assert_eq!(doc["container"]["name"], "app");
    assert_eq!(doc["container"]["essential"], true);
    assert_eq!(doc["logs"]["logGroup"], "/ecs/web-app");
    assert_eq!(doc["logs"]["logStream"], format!("ecs/app/{OOM_TASK}"));
    // The last four lines, oldest first, the secret redacted.
    let lines: Vec<&str> = doc["logs"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "connected to db with password=[REDACTED]",
            "loading product catalogue into memory",
            "cache size 1843 MiB",
            "GC overhead limit approaching"
        ]
    );
    assert_eq!(doc["logs"]["redactions"], 1);
    assert!(!delivered.body.contains("hunter2"));
    assert_eq!(
        doc["links"]["task"],
        format!(
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{OOM_TASK}/configuration?region=us-east-1"
        )
    );
    assert_eq!(
        doc["links"]["service"],
        "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/health?region=us-east-1"
    );
    assert_eq!(
        doc["links"]["taskDefinition"],
        "https://us-east-1.console.aws.amazon.com/ecs/v2/task-definitions/web-app/1/containers?region=us-east-1"
    );
    let stream = doc["links"]["logStream"].as_str().unwrap();
    assert!(
        stream.contains(&format!(
            "log-group/$252Fecs$252Fweb-app/log-events/ecs$252Fapp$252F{OOM_TASK}$3Fstart$3D"
        )),
        "{stream}"
    );
    assert!(
        doc["links"]["logsInsights"]
            .as_str()
            .unwrap()
            .contains("logs-insights$3FqueryDetail$3D")
    );
    let emf = function.last_emf();
    assert_eq!(emf["AlertsPublished"], 1);
    assert_eq!(emf["LogLinesShown"], 4);
}

/// Issue 22 §4: the essential `worker` exited 1 and ECS then stopped the non-essential `envoy`
/// (143), listed first in the event. The task definition (moto's ECS) says which is essential:
/// the worker is blamed, with its exit code and its log lines.
#[tokio::test]
async fn the_essential_container_is_blamed_not_its_sidecar() {
    let s = setup().await;
    worker_with_sidecar(&s.moto.sdk_config().await).await;
    let function = task_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    let response = function
        .invoke(&event_file("task-alert/sidecar-exit.json"))
        .response()
        .clone();
    assert_eq!(response["alerts"][0]["logs"], "shown", "{response}");
    let delivered = one(&s).await;
    assert_eq!(
        delivered.subject(),
        Some("[ERROR] worker: essential container exited (worker exit 1) in prod")
    );
    let text = delivered.message();
    // Issue 22 §4: the worker's lines, then the sidecar's as a second section.
    assert_eq!(response["alerts"][0]["sidecarLogs"], "shown", "{response}");
    let section = text
        .find(&format!(
            "\nLast 1 log line of sidecar \"envoy\" (not essential, exit code 143; log group \"/ecs/worker\", stream \"ecs/envoy/{SIDECAR_TASK}\"; oldest first):\n"
        ))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text.contains(&format!(
            "\nLast 2 log lines of \"worker\" (log group \"/ecs/worker\", stream \"ecs/worker/{SIDECAR_TASK}\"; oldest first):\n"
        )),
        "{text}"
    );
    for line in WORKER_LINES {
        let at = text
            .find(&format!("  | {line}\n"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(at < section, "{text}");
    }
    for line in ENVOY_LINES {
        let at = text
            .find(&format!("  | {line}\n"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(at > section, "{text}");
    }
}

#[tokio::test]
async fn text_format_carries_the_filter_attributes() {
    let s = setup().await;
    let function = task_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    function
        .invoke(&event_file("task-alert/oom-killed.json"))
        .response();
    let delivered = one(&s).await;
    assert_eq!(delivered.attribute("service"), Some("web"));
    assert_eq!(delivered.attribute("cluster"), Some("prod"));
    assert_eq!(delivered.attribute("severity"), Some("ERROR"));
    assert_eq!(delivered.attribute("reason"), Some("OutOfMemory"));
    let text = delivered.message();
    assert!(text.contains("  | GC overhead limit approaching\n"), "{text}");
}

#[tokio::test]
async fn routine_stops_publish_nothing() {
    let s = setup().await;
    let function = task_alert(&s, &[]);
    for (file, kind) in [
        ("scale-in.json", "ScaleIn"),
        ("deployment-replacement.json", "DeploymentReplacement"),
        ("user-stop.json", "UserStopped"),
    ] {
        let response = function
            .invoke(&event_file(&format!("task-alert/{file}")))
            .response()
            .clone();
        assert_eq!(response["expectedStops"][kind], 1, "{file}: {response}");
        assert_eq!(response["alerts"], json!([]), "{file}");
    }
    assert!(s.topic.drain().await.is_empty());
}

#[tokio::test]
async fn a_failed_image_pull_alerts_without_log_lines_and_says_why() {
    let s = setup().await;
    let function = task_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    function
        .invoke(&event_file("task-alert/cannot-pull.json"))
        .response();
    let delivered = one(&s).await;
    assert_eq!(delivered.attribute("reason"), Some("ImagePullFailed"));
    let text = delivered.message();
    assert!(
        text.contains("never started (image pull failed), so it wrote no log lines"),
        "{text}"
    );
    assert!(
        text.contains("CannotPullContainerError: pull image manifest has been retried 7 time(s)"),
        "{text}"
    );
    assert!(!text.contains("  | "), "{text}");
}

#[tokio::test]
async fn a_firelens_container_alerts_and_says_its_logs_are_elsewhere() {
    let s = setup().await;
    let function = task_alert(&s, &[]);
    let response = function
        .invoke(&event_file("task-alert/non-awslogs.json"))
        .response()
        .clone();
    assert_eq!(response["alerts"][0]["logs"], "notAwslogs");
    let doc = one(&s).await.message_json();
    assert_eq!(doc["logs"]["status"], "notAwslogs");
    let note = doc["logs"]["note"].as_str().unwrap();
    assert!(
        note.contains("\"awsfirelens\" driver, not awslogs: its logs are elsewhere"),
        "{note}"
    );
    assert_eq!(doc["container"]["exitCode"], 2);
}

#[tokio::test]
async fn deployment_failures_and_retirement_notices_alert() {
    let s = setup().await;
    let function = task_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    function
        .invoke(&event_file("task-alert/deployment-failed.json"))
        .response();
    let delivered = one(&s).await;
    assert_eq!(
        delivered.subject(),
        Some("[CRITICAL] web: deployment failed in prod")
    );
    assert_eq!(delivered.attribute("reason"), Some("DeploymentFailed"));
    assert!(
        delivered
            .message()
            .contains("Reason:            \"ECS deployment circuit breaker: task failed to start.\"")
    );
    // Issue 22 §5: dated by the deployment's updatedAt, not the event's time (18:35:02).
    assert!(
        delivered.message().contains("2025-11-25T18:35:01.822Z"),
        "{}",
        delivered.message()
    );
    function
        .invoke(&event_file("task-alert/task-retirement.json"))
        .response();
    let delivered = one(&s).await;
    assert_eq!(
        delivered.subject(),
        Some("[WARNING] ECS task retirement: 2 resources after Tue, 02 Dec 2025 18:00:00 GMT")
    );
    assert_eq!(delivered.attribute("reason"), Some("TaskRetirement"));
    assert!(
        delivered
            .message()
            .contains("task 00805ce1d81940b5a37398e5a2c23333 in cluster prod")
    );
    function
        .invoke(&event_file("task-alert/placement-failure.json"))
        .response();
    assert_eq!(one(&s).await.attribute("reason"), Some("TaskPlacementFailed"));
}

#[tokio::test]
async fn malformed_events_fail_with_a_named_error() {
    let s = setup().await;
    let function = task_alert(&s, &[]);
    let mut event = event_file("task-alert/oom-killed.json");
    event["detail"]["taskArn"] = json!("not-an-arn-but-a-secret-value");
    let outcome = function.invoke(&event);
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.InvalidEvent");
    assert_eq!(message, "event field detail.taskArn is not an ECS task ARN");
    let outcome = function.invoke(&json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "region": "us-east-1", "detail": {}}));
    assert_eq!(outcome.error().0, "Lookout.InvalidEvent");
    assert!(s.topic.drain().await.is_empty());
}

/// The same service's OOM stop, as task `n`.
fn oom_stop(n: u32) -> serde_json::Value {
    let mut event = event_file("task-alert/oom-killed.json");
    event["id"] = json!(format!("6d0b2e3c-0000-4000-8000-{n:012}"));
    event["detail"]["taskArn"] = json!(format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"));
    event
}

#[tokio::test]
async fn a_crash_loop_across_invocations_alerts_once_then_reports_the_count() {
    let s = setup().await;
    let config = s.moto.sdk_config().await;
    lookout_tests::dynamodb::create_state_table(&config, "lookout-state").await;
    // Crash-loop alerts off: the repeats are only counted.
    let function = task_alert(
        &s,
        &[
            ("STATE_TABLE", "lookout-state"),
            ("MESSAGE_FORMAT", "text"),
            ("CRASH_LOOP_STOPS", "0"),
        ],
    );
    let outcome = |n: u32| {
        let response = function.invoke(&oom_stop(n)).response().clone();
        response["alerts"][0]["outcome"].as_str().unwrap().to_string()
    };
    assert_eq!(
        [outcome(1), outcome(2), outcome(3)],
        ["published", "suppressed", "suppressed"]
    );
    assert!(!one(&s).await.message().contains("suppressed since"));
    // Lambda's retry (or a redelivery) of the first stop: already delivered.
    assert_eq!(outcome(1), "alreadyDelivered");
    assert!(s.topic.drain().await.is_empty());

    // The 15-minute window ends (the contract's windowEnd, moved to the past).
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let items = dynamodb
        .scan()
        .table_name("lookout-state")
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let windows: Vec<_> = items
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("supp#task-alert#"))
        .collect();
    assert_eq!(windows.len(), 1, "one window for the loop");
    assert_eq!(windows[0]["suppressed"].as_n().unwrap(), "2");
    dynamodb
        .update_item()
        .table_name("lookout-state")
        .key("pk", windows[0]["pk"].clone())
        .update_expression("SET windowEnd = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N("0".into()))
        .send()
        .await
        .unwrap();

    let response = function.invoke(&oom_stop(4)).response().clone();
    assert_eq!(response["alerts"][0]["outcome"], "published");
    assert_eq!(response["alerts"][0]["suppressedBefore"], 2);
    let text = one(&s).await.message().to_string();
    assert!(
        text.contains("\nSuppressed:    2 similar alerts suppressed since 20")
            && text.contains("(SUPPRESS_WINDOW_MINUTES)\n"),
        "{text}"
    );
}

/// task-alert talking to moto through a fault proxy, with `extra` environment.
fn task_alert_via(s: &Setup, proxy: &FaultProxy, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint.clone()));
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&lookout_tests::workspace::binary("task-alert"), &env)
}

/// A revision's definition is read once per warm container: the essential flags and the log
/// configurations of a sidecar stop come from one call, and a later stop of the same revision
/// makes none.
#[tokio::test]
async fn a_task_definition_is_read_once_per_revision() {
    let s = setup().await;
    worker_with_sidecar(&s.moto.sdk_config().await).await;
    let proxy = FaultProxy::start(&s.moto.endpoint);
    let function = task_alert_via(&s, &proxy, &[]);
    for _ in 0..2 {
        let response = function
            .invoke(&event_file("task-alert/sidecar-exit.json"))
            .response()
            .clone();
        assert_eq!(response["alerts"][0]["logs"], "shown", "{response}");
    }
    assert_eq!(proxy.seen("DescribeTaskDefinition"), 1);
    // Each stop reads the worker's stream, then the sidecar's.
    assert_eq!(proxy.seen("GetLogEvents"), 4);
    assert_eq!(s.topic.drain().await.len(), 2, "no state table: both published");
}

/// Issue 20 §5: log lines were read before the alert was claimed, even for suppressed
/// repeats and retries of delivered alerts. Now only an alert that will be sent reads them.
#[tokio::test]
async fn a_suppressed_repeat_or_a_delivered_retry_makes_no_log_lookup() {
    let s = setup().await;
    let config = s.moto.sdk_config().await;
    lookout_tests::dynamodb::create_state_table(&config, "lookout-state").await;
    let proxy = FaultProxy::start(&s.moto.endpoint);
    let function = task_alert_via(
        &s,
        &proxy,
        &[("STATE_TABLE", "lookout-state"), ("CRASH_LOOP_STOPS", "0")],
    );
    let first = function.invoke(&oom_stop(1)).response().clone();
    assert_eq!(first["alerts"][0]["outcome"], "published");
    // The stream of task 1 does not exist in moto: looked up, and said so.
    assert_eq!(first["alerts"][0]["logs"], "streamMissing");
    let lookups = || (proxy.seen("DescribeTaskDefinition"), proxy.seen("GetLogEvents"));
    assert_eq!(lookups(), (1, 1));
    for n in [2, 3, 1] {
        let response = function.invoke(&oom_stop(n)).response().clone();
        let outcome = if n == 1 { "alreadyDelivered" } else { "suppressed" };
        assert_eq!(response["alerts"][0]["outcome"], outcome, "stop {n}");
        assert_eq!(response["alerts"][0]["logs"], "notRead", "stop {n}");
    }
    assert_eq!(
        lookups(),
        (1, 1),
        "no ECS or CloudWatch Logs call for alerts not sent"
    );
    assert_eq!(s.topic.drain().await.len(), 1);
}

/// The log lookup may take at most 5 s and half the time left: a hung CloudWatch Logs no
/// longer leaves a slow SNS too little time. Before, the lookup took all but 2 s of the
/// 15 s deadline and the publish (answered in 4 s) failed at the deadline.
#[tokio::test]
async fn a_hung_log_lookup_leaves_a_slow_publish_its_time() {
    let s = setup().await;
    let proxy = FaultProxy::start(&s.moto.endpoint);
    proxy.inject("GetLogEvents", Fault::Delay(Duration::from_secs(30)), usize::MAX);
    proxy.inject("Publish", Fault::DelayAnswer(Duration::from_secs(4)), usize::MAX);
    let function = task_alert_via(
        &s,
        &proxy,
        // SDK timeouts above the deadline: only the function's own budget ends a call.
        &[
            ("AWS_ATTEMPT_TIMEOUT_MS", "60000"),
            ("AWS_OPERATION_TIMEOUT_MS", "60000"),
        ],
    );
    let outcome = function.invoke_with_deadline(&oom_stop(1), Duration::from_secs(15));
    let response = outcome.response();
    assert_eq!(response["alerts"][0]["outcome"], "published", "{response}");
    assert_eq!(response["alerts"][0]["logs"], "timedOut");
    assert_eq!(proxy.seen("Publish"), 1);
    let delivered = s.topic.one().await;
    assert!(
        delivered
            .message()
            .contains("would have run past the Lambda deadline"),
        "{}",
        delivered.message()
    );
}

/// Issue 22 §4: five stops of one service in separate invocations, with the state table: the
/// first alert, then one "crash loop" alert at the third stop (`CRASH_LOOP_STOPS`, default 3)
/// with `loop.stops` = 3 in its JSON document, the others suppressed. The next steady state
/// resolves the loop.
#[tokio::test]
async fn five_stops_give_the_first_alert_and_one_crash_loop_alert() {
    let s = setup().await;
    let config = s.moto.sdk_config().await;
    lookout_tests::dynamodb::create_state_table(&config, "lookout-state").await;
    let function = task_alert(&s, &[("STATE_TABLE", "lookout-state")]);
    let mut outcomes = Vec::new();
    for n in 1..=5 {
        let response = function.invoke(&oom_stop(n)).response().clone();
        outcomes.push(response["alerts"][0]["outcome"].as_str().unwrap().to_string());
        if n == 3 {
            assert_eq!(response["alerts"][0]["crashLoop"]["stops"], 3, "{response}");
        }
    }
    assert_eq!(
        outcomes,
        ["published", "suppressed", "published", "suppressed", "suppressed"]
    );
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    let first = delivered[0].message_json();
    assert!(first.get("loop").is_none(), "the first alert is not a loop");
    let crash_loop = delivered[1].message_json();
    assert_eq!(crash_loop["loop"]["stops"], 3, "{crash_loop}");
    let since = crash_loop["loop"]["since"].as_str().unwrap();
    assert!(since.len() == 24 && since.ends_with('Z'), "ISO 8601: {since}");
    let summary = crash_loop["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("[ERROR] web: crash loop, 3 stops in "),
        "{summary}"
    );
    // A retry of the third stop sends nothing.
    let retry = function.invoke(&oom_stop(3)).response().clone();
    assert_eq!(retry["alerts"][0]["outcome"], "alreadyDelivered");
    assert!(s.topic.drain().await.is_empty());

    // The service is steady again: the crash loop is resolved.
    let response = function
        .invoke(&event_file("task-alert/steady-state.json"))
        .response()
        .clone();
    assert_eq!(response["recoveries"], json!({"resolved": 1}), "{response}");
    let resolved = one(&s).await.message_json();
    assert_eq!(resolved["status"], "RESOLVED");
    assert_eq!(resolved["resolves"]["kind"], "crashLoop");
    assert_eq!(resolved["resolves"]["subject"], summary);
}

/// Issue 22 §4: a failed deployment, then SERVICE_STEADY_STATE: one `[RESOLVED]` message
/// naming it, however often the steady-state event is retried; a steady state for a service
/// with no open alert sends nothing.
#[tokio::test]
async fn a_failed_deployment_then_steady_state_is_resolved_once() {
    let s = setup().await;
    let config = s.moto.sdk_config().await;
    lookout_tests::dynamodb::create_state_table(&config, "lookout-state").await;
    let function = task_alert(
        &s,
        &[("STATE_TABLE", "lookout-state"), ("MESSAGE_FORMAT", "text")],
    );
    // Another service is steady: it had no open alert.
    let mut api = event_file("task-alert/steady-state.json");
    api["resources"] = json!(["arn:aws:ecs:us-east-1:123456789012:service/prod/api"]);
    let response = function.invoke(&api).response().clone();
    assert_eq!(response["recoveries"], json!({"noOpenAlert": 1}), "{response}");
    assert_eq!(response["alerts"], json!([]));

    function
        .invoke(&event_file("task-alert/deployment-failed.json"))
        .response();
    let failed = one(&s).await;
    assert_eq!(
        failed.subject(),
        Some("[CRITICAL] web: deployment failed in prod")
    );

    let steady = event_file("task-alert/steady-state.json");
    let response = function.invoke(&steady).response().clone();
    assert_eq!(response["recoveries"], json!({"resolved": 1}), "{response}");
    assert_eq!(response["alerts"][0]["outcome"], "published");
    let resolved = one(&s).await;
    assert_eq!(
        resolved.subject(),
        Some("[RESOLVED] web: deployment failed, steady after 12m 2s in prod")
    );
    assert_eq!(resolved.attribute("status"), Some("RESOLVED"));
    assert_eq!(resolved.attribute("reason"), Some("DeploymentFailed"));
    let text = resolved.message();
    assert!(
        text.contains("Open alert:        \"[CRITICAL] web: deployment failed in prod\"\n")
            && text.contains("Resolves:          deployment failed (DeploymentFailed, CRITICAL) at 2025-11-25T18:35:01.822Z\n")
            && text.contains("Failing for:       12m 2s\n"),
        "{text}"
    );

    // Lambda's retry (or a redelivery) of the steady-state event: nothing more.
    let retry = function.invoke(&steady).response().clone();
    assert_eq!(retry["recoveries"], json!({"resolved": 1}), "{retry}");
    assert_eq!(retry["alerts"][0]["outcome"], "alreadyDelivered");
    // ECS repeats SERVICE_STEADY_STATE: the alert is resolved already.
    let mut again = steady.clone();
    again["id"] = json!("5f7c1d2e-8a3b-4c6d-9e0f-000000000002");
    let response = function.invoke(&again).response().clone();
    assert_eq!(
        response["recoveries"],
        json!({"alreadyResolved": 1}),
        "{response}"
    );
    assert!(s.topic.drain().await.is_empty());
}

/// Without a state table nothing is kept, so a steady state resolves nothing.
#[tokio::test]
async fn without_a_state_table_no_resolution_is_sent() {
    let s = setup().await;
    let function = task_alert(&s, &[]);
    function
        .invoke(&event_file("task-alert/deployment-failed.json"))
        .response();
    assert_eq!(s.topic.drain().await.len(), 1);
    let response = function
        .invoke(&event_file("task-alert/steady-state.json"))
        .response()
        .clone();
    assert_eq!(response["recoveries"], json!({"noStateTable": 1}), "{response}");
    assert!(s.topic.drain().await.is_empty());
}
