//! log-alert end to end: the release-shaped binary, driven through the Lambda Runtime API,
//! publishing to moto's SNS; the tests read what SNS delivered to an SQS queue.

use lookout_tests::Function;
use lookout_tests::events::{awslogs_event, data_message, gzip, subscription_event};
use lookout_tests::moto::{Delivered, Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::json;
use std::time::Duration;

struct Setup {
    moto: Moto,
    topic: TopicWithQueue,
}

async fn setup(fifo: bool) -> Setup {
    let moto = Moto::start();
    let topic = TopicWithQueue::create(&moto.sdk_config().await, "alerts", fifo).await;
    Setup { moto, topic }
}

fn log_alert(setup: &Setup, extra: &[(&str, &str)]) -> Function {
    let mut env = setup.moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), setup.topic.topic_arn.clone()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary("log-alert"), &env)
}

async fn one_message(setup: &Setup) -> Delivered {
    let mut delivered = setup.topic.drain().await;
    assert_eq!(delivered.len(), 1, "expected exactly one message: {delivered:?}");
    delivered.remove(0)
}

#[tokio::test]
async fn plain_errors_become_one_actionable_message() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    let response = function.invoke(&event_file("log-alert/plain-errors.json"));
    let response = response.response();
    assert_eq!(response["status"], "published");
    assert_eq!(response["events"], 4);

    let delivered = one_message(&setup).await;
    assert_eq!(delivered.subject(), Some("[CRITICAL] 4 events in /ecs/web-app"));
    // Per-protocol: SQS gets the structured document.
    let doc = delivered.message_json();
    assert_eq!(doc["source"], "lookout.log-alert");
    assert_eq!(doc["logGroup"], "/ecs/web-app");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["region"], "us-east-1");
    assert_eq!(doc["eventCount"], 4);
    assert_eq!(doc["severity"], "CRITICAL");
    assert_eq!(doc["firstTimestamp"], "2025-11-25T18:00:00.000Z");
    assert_eq!(doc["lastTimestamp"], "2025-11-25T18:00:04.200Z");
    assert_eq!(doc["subscriptionFilters"], json!(["lookout-errors"]));
    // The two payment timeouts differ only in numbers: one line, ×2.
    assert_eq!(doc["distinctLines"], 3);
    let lines = doc["lines"].as_array().unwrap();
    assert_eq!(lines[0]["severity"], "CRITICAL");
    assert_eq!(lines[1]["count"], 2);
    assert!(
        doc["links"]["logStream"]
            .as_str()
            .unwrap()
            .contains("log-group/$252Fecs$252Fweb-app/log-events/")
    );
    assert!(
        doc["links"]["logsInsights"]
            .as_str()
            .unwrap()
            .contains("logs-insights$3FqueryDetail$3D")
    );
    // The EMF line is on stdout, whole.
    let emf = function.last_emf();
    assert_eq!(emf["EventsDecoded"], 4);
    assert_eq!(emf["AlertsPublished"], 1);
}

#[tokio::test]
async fn text_format_carries_attributes_for_filter_policies() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[("MESSAGE_FORMAT", "text")]);
    function
        .invoke(&event_file("log-alert/java-stack-trace.json"))
        .response();
    let delivered = one_message(&setup).await;
    assert_eq!(delivered.attribute("severity"), Some("ERROR"));
    assert_eq!(delivered.attribute("logGroup"), Some("/ecs/inventory"));
    assert_eq!(delivered.attribute("eventCount"), Some("1"));
    let text = delivered.message();
    assert!(text.starts_with("[ERROR] 1 event in /ecs/inventory\n"), "{text}");
    assert!(
        text.contains("Time (UTC):    2025-11-25T18:00:02.345Z to 2025-11-25T18:00:02.345Z"),
        "{text}"
    );
    // The stack trace arrives whole, lines and tabs intact, each line framed.
    assert!(text.contains("  | java.lang.IllegalStateException: Inventory reservation failed for SKU-88213\n  | \tat com.example.inventory.ReservationService.reserve(ReservationService.java:142)"), "{text}");
    assert!(text.contains("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Fecs$252Finventory/log-events/"));
}

#[tokio::test]
async fn control_messages_are_acknowledged_and_nothing_is_published() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    let outcome = function.invoke(&event_file("log-alert/control-message.json"));
    assert_eq!(outcome.response()["status"], "acknowledged");
    assert!(setup.topic.drain().await.is_empty());
}

#[tokio::test]
async fn malformed_events_fail_the_invocation_with_a_named_error() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[("MAX_DECOMPRESSED_BYTES", "1048576")]);
    let valid = event_file("log-alert/plain-errors.json");
    let data = valid["awslogs"]["data"].as_str().unwrap();
    let truncated = {
        let raw = base64_decode(data);
        awslogs_event(&raw[..raw.len() - 10])
    };
    let bomb = awslogs_event(&gzip(&vec![b'a'; 4 << 20]));
    let cases = [
        (json!({"foo": 1}), "Lookout.MissingAwslogsData", "no awslogs.data"),
        (
            json!({"awslogs": {"data": 42}}),
            "Lookout.AwslogsDataNotString",
            "not a string",
        ),
        (
            json!({"awslogs": {"data": "%%% not base64"}}),
            "Lookout.PayloadNotBase64",
            "not valid base64",
        ),
        (
            awslogs_event(b"{\"messageType\":\"DATA_MESSAGE\"}"),
            "Lookout.PayloadNotGzip",
            "not gzip",
        ),
        (truncated, "Lookout.PayloadTruncatedGzip", "truncated"),
        (
            awslogs_event(&gzip(b"<html>")),
            "Lookout.PayloadNotJson",
            "not JSON",
        ),
        (
            subscription_event(&json!({"messageType": "DATA_MESSAGE", "logEvents": "x"})),
            "Lookout.PayloadNotLogsMessage",
            "not a CloudWatch Logs message",
        ),
        (bomb, "Lookout.PayloadTooLarge", "more than the 1048576-byte cap"),
    ];
    for (event, error_type, words) in cases {
        let outcome = function.invoke(&event);
        let (t, message) = outcome.error();
        assert_eq!(t, error_type, "{message}");
        assert!(message.contains(words), "{error_type}: {message}");
    }
    assert!(setup.topic.drain().await.is_empty());
    // The function survives bad input: the next good event is published.
    function.invoke(&valid).response();
    assert_eq!(setup.topic.drain().await.len(), 1);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// 10,000 distinct multibyte events (~2 MB decompressed) make one message within 256 KiB
/// that says what it left out, in both formats.
/// `i` written in the letters g..z, which grouping keeps (it folds numbers and hex), so every
/// event is distinct.
fn letters(mut i: usize) -> String {
    let mut out = String::new();
    loop {
        out.push((b'g' + (i % 20) as u8) as char);
        i /= 20;
        if i == 0 {
            return out;
        }
    }
}

#[tokio::test]
async fn ten_thousand_multibyte_events_fit_one_message() {
    let setup = setup(false).await;
    let events: Vec<(i64, String)> = (0..10_000)
        .map(|i| {
            let word = ["注文", "Überweisung", "платёж", "réservation", "🚨 alerte"][i % 5];
            (
                1_764_093_600_000 + i as i64,
                format!("ERROR {word} {} échoué — {}", letters(i), "ü".repeat(60 + i % 50)),
            )
        })
        .collect();
    let event = subscription_event(&data_message("/ecs/intl", events));
    for format in ["per-protocol", "text"] {
        // MAX_LINES=10000 needs the template's 256 MB (refused at init at the harness's 128).
        let function = log_alert(
            &setup,
            &[
                ("MESSAGE_FORMAT", format),
                ("MAX_LINES", "10000"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ],
        );
        let response = function.invoke(&event).response().clone();
        assert_eq!(response["events"], 10_000, "{format}");
        assert_eq!(response["distinctLines"], 10_000, "{format}");
        assert!(
            response["publishedBytes"].as_u64().unwrap() <= 262_144,
            "{response}"
        );
        let delivered = one_message(&setup).await;
        let text = match format {
            "text" => delivered.message().to_string(),
            _ => {
                let doc = delivered.message_json();
                assert_eq!(doc["eventCount"], 10_000);
                assert!(doc["omitted"]["lines"].as_u64().unwrap() > 0, "{format}");
                doc["lines"][0]["message"].as_str().unwrap().to_string()
            }
        };
        assert!(text.contains('ü'), "multibyte text survives");
        if format == "text" {
            assert!(
                text.contains("not shown: an SNS message is limited to 256 KiB"),
                "{}",
                &text[text.len() - 300..]
            );
            assert!(
                text.len() > 200_000,
                "the budget is used, not wasted: {}",
                text.len()
            );
        }
    }
}

#[tokio::test]
async fn a_one_megabyte_event_is_cut_and_the_cut_is_stated() {
    let setup = setup(false).await;
    let big = format!("ERROR huge payload {}", "ж".repeat(500_000));
    let event = subscription_event(&data_message("/ecs/big", [(1_764_093_600_000, big.clone())]));
    let function = log_alert(&setup, &[("MESSAGE_FORMAT", "text")]);
    function.invoke(&event).response();
    let text = one_message(&setup).await.message().to_string();
    // 19 ASCII bytes and 500,000 two-byte letters: the 8,192-byte cut lands on a letter
    // boundary at 8,191 bytes, leaving 1,000,019 - 8,191 = 991,828 bytes out.
    assert_eq!(big.len(), 1_000_019);
    assert!(text.contains("\n[991,828 more bytes]\n"), "{text}");
}

#[tokio::test]
async fn a_fifo_topic_deduplicates_a_redelivered_batch() {
    let setup = setup(true).await;
    let function = log_alert(&setup, &[]);
    let event = event_file("log-alert/plain-errors.json");
    function.invoke(&event).response();
    function.invoke(&event).response();
    function
        .invoke(&event_file("log-alert/json-logs.json"))
        .response();
    let delivered = setup.topic.drain().await;
    assert_eq!(delivered.len(), 2, "the redelivered batch was deduplicated");
}

#[tokio::test]
async fn secrets_never_leave_the_function() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[("MESSAGE_FORMAT", "text")]);
    let response = function
        .invoke(&event_file("log-alert/secrets.json"))
        .response()
        .clone();
    assert!(response["redactions"].as_u64().unwrap() >= 5, "{response}");
    let text = one_message(&setup).await.message().to_string();
    let logs = function.output().join("\n");
    for secret in [
        "Sup3rS3cret",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "hunter2",
        "eyJhbGciOiJIUzI1NiJ9",
    ] {
        assert!(!text.contains(secret), "{secret} in the alert:\n{text}");
        assert!(!logs.contains(secret), "{secret} in the function's logs");
    }
    assert!(
        text.contains("https://svc:[REDACTED]@payments.internal/v1/charge"),
        "{text}"
    );
}

#[tokio::test]
async fn the_functions_own_log_group_is_never_alerted_on() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    let event = subscription_event(&data_message(
        "/aws/lambda/lookout-test",
        [(1, "ERROR loop".to_string())],
    ));
    assert_eq!(function.invoke(&event).response()["status"], "ignored");
    assert!(setup.topic.drain().await.is_empty());
}

#[tokio::test]
async fn a_missing_topic_is_an_init_error_that_names_the_variable() {
    let moto = Moto::start();
    let mut function = Function::spawn(&binary("log-alert"), &moto.function_env());
    let status = function
        .wait_exit(Duration::from_secs(20))
        .expect("init fails and the process exits");
    assert!(!status.success());
    let output = function.output().join("\n");
    assert!(
        output.contains("ALERT_TOPIC_ARN is required but not set"),
        "{output}"
    );
}

#[tokio::test]
async fn an_unreachable_sns_fails_the_invocation_in_bounded_time() {
    let setup = setup(false).await;
    let mut env = setup.moto.function_env();
    let dead = lookout_tests::moto::free_port();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), format!("http://127.0.0.1:{dead}")));
    env.push(("ALERT_TOPIC_ARN".into(), setup.topic.topic_arn.clone()));
    env.push(("AWS_MAX_ATTEMPTS".into(), "2".into()));
    let function = Function::spawn(&binary("log-alert"), &env);
    let outcome = function.invoke(&event_file("log-alert/plain-errors.json"));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.PublishFailed");
    assert!(message.contains("connection failed"), "{message}");
}

#[tokio::test]
async fn a_missing_region_is_an_init_error_that_names_the_variable() {
    let setup = setup(false).await;
    let mut env = setup.moto.function_env();
    env.retain(|(k, _)| k != "AWS_REGION");
    env.push(("ALERT_TOPIC_ARN".into(), setup.topic.topic_arn.clone()));
    let mut function = Function::spawn(&binary("log-alert"), &env);
    let status = function
        .wait_exit(Duration::from_secs(20))
        .expect("init fails and the process exits");
    assert!(!status.success());
    let output = function.output().join("\n");
    assert!(output.contains("AWS_REGION is required but not set"), "{output}");
}

/// cargo-lambda 1.9's `watch` emulator sends `Lambda-Runtime-Deadline-Ms: 600000`, a deadline
/// in 1970: the invocation runs on the fixed budget and publishes, with one warning.
#[tokio::test]
async fn an_emulator_deadline_in_1970_runs_on_a_fixed_budget_and_publishes() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    for _ in 0..2 {
        let outcome = function.invoke_with_deadline_ms(
            &event_file("log-alert/plain-errors.json"),
            600_000,
            Duration::from_secs(60),
        );
        assert_eq!(outcome.response()["status"], "published");
    }
    assert_eq!(setup.topic.drain().await.len(), 2);
    let warnings = function
        .output()
        .into_iter()
        .filter(|l| l.contains("using a fixed budget instead"))
        .count();
    assert_eq!(warnings, 1, "one warning per process");
}

/// Issue 15: `MIN_SEVERITY` (default ERROR). The failure shapes of events/log-alert/failure-shapes.json
/// (Go panic, Node unhandled rejection, nginx `[error]`, JSON `level:error`, Lambda timeout as text
/// and as a JSON `platform.report`, out of memory) are all published; its `0 errors`, health-check
/// and WARN lines are counted, not shown.
#[tokio::test]
async fn lines_below_min_severity_are_counted_not_published() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    let response = function
        .invoke(&event_file("log-alert/failure-shapes.json"))
        .response()
        .clone();
    assert_eq!(response["status"], "published", "{response}");
    assert_eq!(response["events"], 7, "{response}");
    assert_eq!(response["belowMinSeverity"], 3, "{response}");
    // Issue 22 §5: both numbers, in the response and the subject.
    assert_eq!(response["totalEvents"], 10, "{response}");
    let delivered = one_message(&setup).await;
    assert_eq!(
        delivered.subject(),
        Some("[CRITICAL] 7 of 10 events in /ecs/shop")
    );
    let doc = delivered.message_json();
    assert_eq!(doc["totalEvents"], 10);
    assert_eq!(
        doc["severityCounts"],
        json!({"CRITICAL": 1, "ERROR": 6, "WARNING": 0, "NOTICE": 0})
    );
    assert_eq!(doc["belowMinSeverity"], 3);
    let shown = doc["lines"].to_string();
    for failure in [
        "panic: runtime error",
        "UnhandledPromiseRejection",
        "[error] 29#29",
        "order sync failed",
        "Task timed out",
        "platform.report",
        "Max Memory Used: 256 MB",
    ] {
        assert!(shown.contains(failure), "{failure} not shown: {shown}");
    }
    for noise in ["0 errors", "healthz", "retrying upstream"] {
        assert!(!shown.contains(noise), "{noise} shown: {shown}");
    }
    let emf = function.last_emf();
    assert_eq!(emf["EventsBelowMinSeverity"], 3);
}

#[tokio::test]
async fn a_batch_with_nothing_at_min_severity_publishes_nothing_and_says_why() {
    let setup = setup(false).await;
    let event = event_file("log-alert/below-min-severity.json");
    let function = log_alert(&setup, &[]);
    let response = function.invoke(&event).response().clone();
    assert_eq!(
        response,
        json!({
            "status": "belowMinSeverity",
            "reason": "no line is at or above MIN_SEVERITY",
            "logGroup": "/ecs/quiet",
            "minSeverity": "ERROR",
            "highestSeverity": "WARNING",
            "events": 3,
        })
    );
    assert!(setup.topic.drain().await.is_empty());
    let logged = function.output().join("\n");
    assert!(
        logged.contains("no line is at or above MIN_SEVERITY"),
        "the summary log line says why"
    );
    // A lower minimum publishes the WARN line.
    let warning = log_alert(&setup, &[("MIN_SEVERITY", "WARNING")]);
    let response = warning.invoke(&event).response().clone();
    assert_eq!(
        (response["status"].as_str(), response["events"].as_u64()),
        (Some("published"), Some(1))
    );
    assert_eq!(setup.topic.drain().await.len(), 1);
}

/// A topic in another region than the function's (issue 12 §4): the publish goes to the topic's
/// own region. Before, the client's region was used and SNS answered NotFound.
#[tokio::test]
async fn a_topic_in_another_region_is_published_to_in_its_own_region() {
    let moto = Moto::start();
    let other = moto
        .sdk_config()
        .await
        .to_builder()
        .region(aws_config::Region::new("eu-west-2"))
        .build();
    let topic = TopicWithQueue::create(&other, "elsewhere", false).await;
    assert!(
        topic.topic_arn.starts_with("arn:aws:sns:eu-west-2:"),
        "{}",
        topic.topic_arn
    );
    let mut env = moto.function_env();
    assert!(env.iter().any(|(k, v)| k == "AWS_REGION" && v != "eu-west-2"));
    env.push(("ALERT_TOPIC_ARN".into(), topic.topic_arn.clone()));
    let function = Function::spawn(&binary("log-alert"), &env);
    let outcome = function.invoke(&event_file("log-alert/plain-errors.json"));
    assert_eq!(outcome.response()["status"], "published");
    assert_eq!(topic.drain().await.len(), 1);
}

/// Issue 12 §4: a payload that is not a Logs message used to be echoed into the error
/// (`unknown variant "password=hunter2"`, a 5 KB string whole). The Diagnostic and the logs
/// name the problem and a position only.
#[tokio::test]
async fn errors_and_logs_never_quote_the_payload() {
    let setup = setup(false).await;
    let function = log_alert(&setup, &[]);
    let long = "x".repeat(5_000);
    for message in [
        json!({"messageType": "password=hunter2"}),
        json!({"messageType": "DATA_MESSAGE", "logGroup": "/g", "logEvents": format!("password=hunter2 {long}")}),
        json!({"messageType": "DATA_MESSAGE", "logGroup": "/g", "logEvents": [{"id": "1", "timestamp": "password=hunter2", "message": long}]}),
    ] {
        let outcome = function.invoke(&subscription_event(&message));
        let (error_type, text) = outcome.error();
        assert_eq!(error_type, "Lookout.PayloadNotLogsMessage");
        assert!(text.contains("line 1, column"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("xxxxxxxxxx"),
            "{text}"
        );
    }
    let logs = function.output().join("\n");
    assert!(
        !logs.contains("hunter2") && !logs.contains("xxxxxxxxxx"),
        "{logs}"
    );
    assert!(setup.topic.drain().await.is_empty());
}
