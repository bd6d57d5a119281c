//! task-alert in organisation mode (issue 24 §4), end to end: the binary through the Lambda
//! Runtime API, talking to moto through the fault proxy. moto answers AssumeRole for any
//! account id and keeps each account's resources apart, so a member account's task
//! definition and log lines are created on credentials assumed in it; "no reader role" is the
//! proxy refusing AssumeRole for that account's role (moto checks no trust policy), and a slow
//! or throttled STS is the proxy delaying or throttling it.

use lookout_tests::Function;
use lookout_tests::ecs::{OOM_LINES, OOM_TASK, web_app_with_oom_logs};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Moto, TopicWithQueue, acting_in};
use lookout_tests::workspace::event_file;
use serde_json::{Value, json};
use std::time::Duration;

/// Member accounts: A has the reader role, B has none; C's STS is slow, D's throttled.
const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const D: &str = "444444444444";

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "task-alerts", false).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    Setup { moto, proxy, topic }
}

/// task-alert in organisation mode, through the proxy, naming A "payments-prod".
fn task_alert(s: &Setup, members: &str, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    let names = format!(r#"{{"{A}": "payments-prod"}}"#);
    for (k, v) in [
        ("AWS_ENDPOINT_URL", s.proxy.endpoint.as_str()),
        ("ALERT_TOPIC_ARN", s.topic.topic_arn.as_str()),
        ("MEMBER_ACCOUNTS", members),
        ("ACCOUNT_NAMES", names.as_str()),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        env.push((k.to_string(), v.to_string()));
    }
    Function::spawn(&lookout_tests::workspace::binary("task-alert"), &env)
}

/// The sample OOM stop (web-app:1's `app`, task [`OOM_TASK`]) as `account` sends it.
fn oom_stop_in(account: &str) -> Value {
    let text = event_file("task-alert/oom-killed.json")
        .to_string()
        .replace("123456789012", account);
    serde_json::from_str(&text).expect("the sample, re-accounted")
}

fn lines_of(doc: &Value) -> Vec<String> {
    doc["logs"]["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["message"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A's task stop: the task definition and the log lines are in A only (the function's own
/// account has neither), and the alert carries A's last lines and A's name. The role is
/// assumed once: a second stop of A in the same warm container reuses the credentials and
/// the revision's definition.
#[tokio::test]
async fn a_members_task_stop_carries_its_last_lines_and_its_name() {
    let s = setup().await;
    let direct = s.moto.sdk_config().await;
    web_app_with_oom_logs(&acting_in(&direct, A).await).await;
    let function = task_alert(&s, &format!("{A},{B}"), &[]);

    let response = function.invoke(&oom_stop_in(A)).response().clone();
    assert_eq!(response["alerts"][0]["outcome"], "published", "{response}");
    assert_eq!(response["alerts"][0]["logs"], "shown", "{response}");
    assert_eq!(response["alerts"][0]["account"], A);
    let delivered = s.topic.one().await;
    assert_eq!(
        delivered.subject(),
        Some("[ERROR] payments-prod: web: killed: out of memory (app exit 137) in prod")
    );
    let doc = delivered.message_json();
    assert_eq!(
        (&doc["account"], &doc["accountName"]),
        (&json!(A), &json!("payments-prod"))
    );
    assert_eq!(doc["logs"]["logStream"], format!("ecs/app/{OOM_TASK}"));
    let mut expected: Vec<String> = OOM_LINES.iter().map(|l| l.to_string()).collect();
    expected[1] = "connected to db with password=[REDACTED]".into();
    assert_eq!(lines_of(&doc), expected);
    assert!(!delivered.body.contains("hunter2"));
    assert_eq!(s.proxy.seen("AssumeRole"), 1);

    // Another stop of the same revision in A: no new AssumeRole, no new DescribeTaskDefinition.
    let mut again = oom_stop_in(A);
    again["id"] = json!("6d0b2e3c-0000-4000-8000-000000000002");
    again["detail"]["taskArn"] = json!(format!(
        "arn:aws:ecs:us-east-1:{A}:task/prod/0000000000000000000000000000000a"
    ));
    let response = function.invoke(&again).response().clone();
    assert_eq!(
        response["alerts"][0]["logs"], "streamMissing",
        "read in A: its group exists, this task's stream does not: {response}"
    );
    assert_eq!(s.proxy.seen("AssumeRole"), 1, "credentials cached per account");
    assert_eq!(s.proxy.seen("DescribeTaskDefinition"), 1, "the revision, cached");
    assert_eq!(s.topic.drain().await.len(), 1);

    // The same stop in the function's own account, where nothing was created: read there.
    let response = function
        .invoke(&event_file("task-alert/oom-killed.json"))
        .response()
        .clone();
    assert_eq!(response["alerts"][0]["logs"], "unavailable", "{response}");
    assert_eq!(s.proxy.seen("AssumeRole"), 1, "no role for the own account");
}

/// B has the task definition and the lines too, but no reader role (the proxy refuses
/// AssumeRole of B's role with AccessDenied): the alert goes out without lines, saying why,
/// and `MemberAccessFailures` counts it.
#[tokio::test]
async fn a_member_without_a_reader_role_alerts_without_lines_and_says_why() {
    let s = setup().await;
    let direct = s.moto.sdk_config().await;
    web_app_with_oom_logs(&acting_in(&direct, B).await).await;
    s.proxy
        .inject_when("AssumeRole", Some(B), Fault::Error("AccessDenied"), usize::MAX);
    let function = task_alert(&s, &format!("{A},{B}"), &[("MESSAGE_FORMAT", "text")]);
    let response = function.invoke(&oom_stop_in(B)).response().clone();
    assert_eq!(response["alerts"][0]["outcome"], "published", "{response}");
    assert_eq!(response["alerts"][0]["logs"], "memberUnreachable", "{response}");
    let delivered = s.topic.one().await;
    assert_eq!(
        delivered.subject(),
        Some("[ERROR] 222222222222: web: killed: out of memory (app exit 137) in prod")
    );
    assert_eq!(delivered.attribute("account"), Some(B));
    let text = delivered.message();
    assert!(
        text.contains(&format!(
            "\nLog lines:\nLast log lines unavailable: cannot assume LookoutReader in {B}: access denied (role missing or not trusting this function).\n"
        )),
        "{text}"
    );
    assert!(!text.contains("  | "), "no lines: {text}");
    assert_eq!(s.proxy.seen("AssumeRole"), 1);
    assert_eq!(
        (
            s.proxy.seen("DescribeTaskDefinition"),
            s.proxy.seen("GetLogEvents")
        ),
        (0, 0),
        "nothing read without the role"
    );
    let emf = function.last_emf();
    assert_eq!(emf["MemberAccessFailures"], 1, "{emf}");
    assert_eq!(emf["AlertsPublished"], 1, "{emf}");
}

/// STS answers C's AssumeRole after 30 s and throttles D's: each alert still goes out within
/// its 15 s deadline, without lines, saying why. The assume gets half of the log lookup's
/// budget (itself at most 5 s and half the time left), so the publish keeps its time.
#[tokio::test]
async fn a_slow_or_throttled_sts_still_alerts_before_the_deadline() {
    let s = setup().await;
    s.proxy.inject_when(
        "AssumeRole",
        Some(C),
        Fault::Delay(Duration::from_secs(30)),
        usize::MAX,
    );
    s.proxy
        .inject_when("AssumeRole", Some(D), Fault::Throttle, usize::MAX);
    let function = task_alert(
        &s,
        "*",
        // SDK timeouts above the deadline: only the function's own budget ends a call.
        &[
            ("MESSAGE_FORMAT", "text"),
            ("AWS_ATTEMPT_TIMEOUT_MS", "60000"),
            ("AWS_OPERATION_TIMEOUT_MS", "60000"),
        ],
    );
    for (account, why) in [
        (C, "STS did not answer in time"),
        (D, "STS throttled the request"),
    ] {
        let outcome = function.invoke_with_deadline(&oom_stop_in(account), Duration::from_secs(15));
        let response = outcome.response();
        assert_eq!(response["alerts"][0]["outcome"], "published", "{response}");
        assert_eq!(response["alerts"][0]["logs"], "memberUnreachable", "{response}");
        let delivered = s.topic.one().await;
        assert!(
            delivered.message().contains(&format!(
                "Last log lines unavailable: cannot assume LookoutReader in {account}: {why}."
            )),
            "{}",
            delivered.message()
        );
        assert_eq!(function.last_emf()["MemberAccessFailures"], 1);
    }
}
