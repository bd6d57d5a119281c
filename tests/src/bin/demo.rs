//! The README's demo: the real function binaries, through the Lambda Runtime API, against
//! moto's server on loopback. No AWS account is involved.

use lookout_tests::moto::{Delivered, Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, root};
use lookout_tests::{Function, Outcome};
use serde_json::Value;

const MAX_PRINTED_LINES: usize = 60;

#[tokio::main]
async fn main() {
    println!("Starting moto's server on loopback (the local AWS endpoint)...");
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    log_alert_demo(&moto, &config).await;
    ecr_rescan_demo(&moto, &config).await;
    scan_alert_demo(&moto, &config).await;
    task_alert_demo(&moto, &config).await;
    state_demo(&moto, &config).await;
    println!("\nDone. moto's server is stopped; nothing left running.");
}

async fn log_alert_demo(moto: &Moto, config: &aws_config::SdkConfig) {
    let topic = TopicWithQueue::create(config, "lookout-demo", false).await;
    println!("SNS topic {} → SQS queue {}", topic.topic_arn, topic.queue_url);
    banner("log-alert, MESSAGE_FORMAT=text (what an email subscriber reads)");
    let function = spawn(moto, "log-alert", &topic, &[("MESSAGE_FORMAT", "text")]);
    let mut files: Vec<_> = std::fs::read_dir(root().join("events/log-alert"))
        .expect("events/log-alert")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("event")).expect("json");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        println!("\n$ invoke log-alert with events/log-alert/{name}");
        report(function.invoke(&event));
        for delivered in topic.drain().await {
            print_delivered(&delivered);
        }
    }

    banner("log-alert, MESSAGE_FORMAT=per-protocol (the default): what SQS subscribers get");
    let function = spawn(moto, "log-alert", &topic, &[]);
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/log-alert/json-logs.json")).expect("event"),
    )
    .expect("json");
    println!("\n$ invoke log-alert with events/log-alert/json-logs.json");
    report(function.invoke(&event));
    for delivered in topic.drain().await {
        println!("Subject: {}", delivered.subject().unwrap_or_default());
        print_limited(&serde_json::to_string_pretty(&delivered.message_json()).unwrap_or_default());
    }
}

async fn ecr_rescan_demo(moto: &Moto, config: &aws_config::SdkConfig) {
    use lookout_tests::ecr::{create_repository, put_image};
    let topic = TopicWithQueue::create(config, "lookout-demo-rescan", false).await;
    let ecr = aws_sdk_ecr::Client::new(config);
    banner("ecr-rescan on a BASIC registry (moto's ECR)");
    for (n, (repo, images)) in [("web-app", 4u64), ("orders-api", 3), ("batch-jobs", 2)]
        .into_iter()
        .enumerate()
    {
        create_repository(&ecr, repo).await;
        let seed = 100 * (n as u64 + 1);
        for i in 0..images {
            put_image(&ecr, repo, seed + i, Some(&format!("v1.{i}"))).await;
        }
        put_image(&ecr, repo, seed + 99, None).await;
    }
    println!("Pushed 9 tagged and 3 untagged images to web-app, orders-api and batch-jobs.");
    let function = spawn(moto, "ecr-rescan", &topic, &[("MESSAGE_FORMAT", "text")]);
    for (title, event) in [
        ("a dry run", "ecr-rescan/dry-run.json"),
        ("the scheduled run", "ecr-rescan/scheduled.json"),
        ("a second run within 24 hours", "ecr-rescan/empty.json"),
    ] {
        println!("\n$ invoke ecr-rescan with events/{event} ({title})");
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(root().join("events").join(event)).expect("event"))
                .expect("json");
        match function.invoke(&event) {
            Outcome::Response(v) => println!("→ outcomes: {}", v["outcomes"]),
            other => report(other),
        }
        for delivered in topic.drain().await {
            print_delivered(&delivered);
        }
    }
}

async fn scan_alert_demo(moto: &Moto, config: &aws_config::SdkConfig) {
    use lookout_tests::ecr::put_image;
    let topic = TopicWithQueue::create(config, "lookout-demo-scans", false).await;
    banner("scan-alert: scan results to notifications");
    // A new image in web-app (created by the rescan demo), scanned for real on moto, so
    // DescribeImageScanFindings has findings to list.
    let ecr = aws_sdk_ecr::Client::new(config);
    let digest = put_image(&ecr, "web-app", 4242, Some("v1.4.2")).await;
    let image = aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_digest(&digest)
        .build();
    let _ = ecr
        .start_image_scan()
        .repository_name("web-app")
        .image_id(image)
        .send()
        .await;
    let function = spawn(moto, "scan-alert", &topic, &[("MESSAGE_FORMAT", "text")]);
    for file in [
        "ecr-scan-complete.json",
        "ecr-scan-complete-clean.json",
        "ecr-scan-failed.json",
        "inspector2-scan.json",
        "inspector2-finding.json",
    ] {
        let mut event: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("events/scan-alert").join(file)).expect("event"),
        )
        .expect("json");
        if file == "ecr-scan-complete.json" {
            // Point the sample at the image just scanned, with the counts moto's scan reports.
            event["detail"]["image-digest"] = Value::String(digest.clone());
            event["detail"]["finding-severity-counts"] = serde_json::json!({"HIGH": 1});
        }
        println!("\n$ invoke scan-alert with events/scan-alert/{file}");
        report(function.invoke(&event));
        for delivered in topic.drain().await {
            print_delivered(&delivered);
        }
    }
}

async fn task_alert_demo(moto: &Moto, config: &aws_config::SdkConfig) {
    let topic = TopicWithQueue::create(config, "lookout-demo-tasks", false).await;
    banner("task-alert: an OOM-killed container, with its last log lines (moto's ECS and CloudWatch Logs)");
    lookout_tests::ecs::web_app_with_oom_logs(config).await;
    println!("Registered web-app:1 (awslogs, group /ecs/web-app) and wrote the OOM task's last 5 lines.");
    let function = spawn(moto, "task-alert", &topic, &[("MESSAGE_FORMAT", "text")]);
    for (file, note) in [
        ("oom-killed.json", "the essential container was OOM-killed"),
        (
            "scale-in.json",
            "the service scheduler scaled in: routine, no alert",
        ),
    ] {
        println!("\n$ invoke task-alert with events/task-alert/{file} ({note})");
        let mut event: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("events/task-alert").join(file)).expect("event"),
        )
        .expect("json");
        // The task stops now, just after its last lines were written (CloudWatch Logs refuses
        // lines older than 14 days, so the sample's own date cannot hold them).
        let now = lookout_shared::time::now_epoch_ms();
        event["time"] = Value::String(lookout_shared::time::iso8601_ms(now));
        event["detail"]["stoppedAt"] = Value::String(lookout_shared::time::iso8601_ms(now));
        report(function.invoke(&event));
        for delivered in topic.drain().await {
            print_delivered(&delivered);
        }
    }
}

/// Issue 13: with a state table, retries and redeliveries publish once, and a storm's later
/// batches are counted until the window ends.
async fn state_demo(moto: &Moto, config: &aws_config::SdkConfig) {
    use lookout_tests::events::{data_message, subscription_event};
    let topic = TopicWithQueue::create(config, "lookout-demo-state", false).await;
    lookout_tests::dynamodb::create_state_table(config, "lookout-demo-state").await;
    banner("log-alert with STATE_TABLE (DynamoDB in moto), SUPPRESS_WINDOW_MINUTES=1");
    let function = spawn(
        moto,
        "log-alert",
        &topic,
        &[
            ("MESSAGE_FORMAT", "text"),
            ("STATE_TABLE", "lookout-demo-state"),
            ("SUPPRESS_WINDOW_MINUTES", "1"),
        ],
    );
    let storm: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/log-alert/storm.json")).expect("event"),
    )
    .expect("json");
    for attempt in 1..=3 {
        println!(
            "\n$ invoke log-alert with events/log-alert/storm.json (delivery {attempt} of the same payload)"
        );
        report(function.invoke(&storm));
        let delivered = topic.drain().await;
        println!("→ {} message(s) delivered", delivered.len());
        for d in &delivered {
            println!("Subject: {}", d.subject().unwrap_or_default());
        }
    }
    let batch = |minute: i64| {
        let t0 = 1_764_151_200_000 + minute * 60_000;
        let lines = (0..3).map(|i| {
            (
                t0 + i,
                format!("ERROR checkout {minute}{i} failed: upstream payments timed out after 30{i} ms"),
            )
        });
        subscription_event(&data_message("/ecs/checkout", lines))
    };
    for minute in 0..3 {
        println!(
            "\n$ invoke log-alert with a new batch of the same error from /ecs/checkout (minute {minute})"
        );
        report(function.invoke(&batch(minute)));
        println!("→ {} message(s) delivered", topic.drain().await.len());
    }
    println!("\nWaiting 61 s for the 1-minute suppression window to end...");
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    println!("\n$ invoke log-alert with the same error after the window");
    report(function.invoke(&batch(10)));
    for delivered in topic.drain().await {
        print_delivered(&delivered);
    }
}

fn spawn(moto: &Moto, name: &str, topic: &TopicWithQueue, extra: &[(&str, &str)]) -> Function {
    let mut env = moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), topic.topic_arn.clone()));
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "Text".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary(name), &env)
}

fn banner(title: &str) {
    println!(
        "\n{}\n{title}\n{}",
        "=".repeat(title.len()),
        "=".repeat(title.len())
    );
}

fn report(outcome: Outcome) {
    match outcome {
        Outcome::Response(v) => println!("→ response: {v}"),
        Outcome::Error {
            error_type,
            error_message,
        } => println!("→ error {error_type}: {error_message}"),
    }
}

fn print_delivered(delivered: &Delivered) {
    println!("--- delivered to SQS ---");
    if let Some(subject) = delivered.subject() {
        println!("Subject: {subject}");
    }
    if let Some(attributes) = delivered.envelope["MessageAttributes"].as_object() {
        let list: Vec<String> = attributes
            .iter()
            .map(|(k, v)| format!("{k}={}", v["Value"].as_str().unwrap_or_default()))
            .collect();
        println!("MessageAttributes: {}", list.join(", "));
    }
    print_limited(delivered.message());
}

fn print_limited(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(MAX_PRINTED_LINES) {
        println!("{line}");
    }
    if lines.len() > MAX_PRINTED_LINES {
        println!(
            "[... {} more lines in this message ...]",
            lines.len() - MAX_PRINTED_LINES
        );
    }
}
