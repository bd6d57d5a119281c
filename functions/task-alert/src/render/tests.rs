//! The renderers against hostile text, SNS's limits and the secret corpus.

use crate::alert::{Alert, HealthAlert, StoppedTask, TaskStopAlert};
use crate::arn::{ClusterArn, TaskArn, TaskDefinitionArn};
use crate::classify::Problem;
use crate::event::{AffectedEntity, Container};
use crate::logs::{LogLine, LogOutcome, LogStream};
use crate::render::Naming;
use lookout_shared::config::TopicArn;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::notification::{Delivery, MessageFormat, SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};
use lookout_shared::notification::{Detail, Notification};
use lookout_shared::outbox::Suppression;
use lookout_shared::severity::Severity;
use serde_json::{Value, json};

const HOSTILE: &str =
    "app\n\nLinks:\nhttps://evil.example `x` <!channel> <@U123> \x1b[31mred\x1b[0m \u{202E}txt.exe";

fn region() -> Region {
    Region::parse("us-east-1").unwrap()
}

fn task_alert(container: &str, reason: &str, lines: Vec<&str>) -> Alert {
    let task =
        TaskArn::parse("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef")
            .unwrap();
    Alert::TaskStop(Box::new(TaskStopAlert {
        problem: Problem::EssentialContainerExited,
        severity: Severity::Error,
        account: AccountId::parse("123456789012"),
        region: region(),
        cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/prod").unwrap(),
        service: Some("web".into()),
        task_definition: TaskDefinitionArn::parse("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3")
            .unwrap(),
        tasks: vec![StoppedTask {
            task,
            stopped_at_ms: Some(1_764_093_850_512),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some(reason.into()),
            version: Some(3),
        }],
        container: Some(Container {
            name: container.into(),
            exit_code: Some(1),
            reason: Some(reason.into()),
            last_status: None,
            runtime_id: None,
        }),
        log_container: Some(container.into()),
        essential: Some(true),
        logs: LogOutcome::Lines {
            stream: LogStream {
                region: region(),
                group: "/ecs/web".into(),
                stream: "ecs/app/0123456789abcdef0123456789abcdef".into(),
            },
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, m)| LogLine {
                    timestamp_ms: 1_764_093_840_000 + i as i64,
                    message: m.into(),
                })
                .collect(),
            omitted: 0,
        },
        redactions: 0,
        sidecar: None,
        crash_loop: None,
        event_ids: vec!["e1".into()],
    }))
}

fn delivery(format: MessageFormat, chat_app: bool) -> Delivery {
    Delivery {
        topic: TopicArn::parse("T", "arn:aws:sns:us-east-1:123456789012:alerts").unwrap(),
        format,
        chat_app,
        max_request_bytes: SNS_MAX_REQUEST_BYTES,
    }
}

const ALL: Detail = Detail::new(1_000, 16_384);

/// A single account's alerts: no names, the Subject as before organisation mode.
fn plain() -> Naming {
    Naming::default()
}

/// No repeats suppressed before the alert.
fn none() -> Suppression {
    Suppression::default()
}

#[test]
fn hostile_text_cannot_forge_sections_links_or_mentions() {
    let alert = task_alert(HOSTILE, HOSTILE, vec![HOSTILE, "ok line"]);
    let n = alert.render(ALL, &none(), &plain());
    // Only our own section headers start a line; every log line is framed.
    assert_eq!(n.text.matches("\nLinks:\n").count(), 1, "{}", n.text);
    assert!(
        !n.text.lines().any(|l| l.starts_with("https://evil")),
        "{}",
        n.text
    );
    assert!(
        !n.text.contains('\x1b') && !n.text.contains('\u{202E}'),
        "{}",
        n.text
    );
    assert!(
        n.text.contains("\\u{1b}[31mred") && n.text.contains("\\u{202e}txt.exe"),
        "{}",
        n.text
    );
    let log_lines: Vec<&str> = n
        .text
        .lines()
        .skip_while(|l| !l.starts_with("Last "))
        .skip(1)
        .filter(|l| !l.starts_with("--- "))
        .collect();
    assert!(log_lines.iter().all(|l| l.starts_with("  | ")), "{log_lines:?}");
    // Chat: no live mention, no code block broken out of.
    let chat = &n.chat;
    assert!(
        !chat.description.contains("<!channel>") && !chat.description.contains("<@U123>"),
        "{}",
        chat.description
    );
    // The title is quoted once, by the shared chat encoder: check what is sent.
    let sent = delivery(MessageFormat::PerProtocol, true).encode(&n).message;
    let body: Value = serde_json::from_str(&sent).unwrap();
    let chat_sent = body["https"].as_str().unwrap();
    assert!(
        !chat_sent.contains("<!channel>") && !chat_sent.contains("<@U123>"),
        "{chat_sent}"
    );
    assert_eq!(
        chat.description.matches("```").count() % 2,
        0,
        "{}",
        chat.description
    );
    // Subject: SNS-safe whatever the container is called.
    let subject = alert.subject(&plain());
    assert!(
        subject.len() <= SUBJECT_MAX_CHARS && subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{subject}"
    );
}

/// Issue 24 §4: an account's `ACCOUNT_NAMES` name leads the Subject (made SNS-safe), is shown
/// escaped with the id in the text, and raw (JSON-escaped) in the document; the id goes to the
/// `account` attribute. Without names or organisation mode, nothing changes but the attribute.
#[test]
fn the_account_is_named_and_its_name_quoted_for_each_format() {
    let config = crate::config::TaskAlertConfig::from_env(&lookout_shared::config::Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        (
            "ACCOUNT_NAMES",
            r#"{"123456789012": "payments <prod> \u202e`x`"}"#,
        ),
    ]))
    .unwrap();
    let named = Naming::new(&config);
    let alert = task_alert("app", "Essential container in task exited", vec!["boom"]);
    let n = alert.render(ALL, &none(), &named);
    let sns = delivery(MessageFormat::Text, false).encode(&n);
    assert!(
        sns.subject.starts_with("[ERROR] payments <prod> ")
            && sns
                .subject
                .ends_with(": web: essential container exited (app exit 1) in prod")
            && sns.subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{}",
        sns.subject
    );
    assert!(
        n.text
            .contains("\nAccount:           payments <prod> \\u{202e}`x` (123456789012)\n"),
        "{}",
        n.text
    );
    assert_eq!(n.structured["account"], "123456789012");
    assert_eq!(n.structured["accountName"], "payments <prod> \u{202e}`x`");
    let attr = sns.attributes.iter().find(|a| a.name == "account");
    assert_eq!(attr.map(|a| a.value_string()).as_deref(), Some("123456789012"));
    let plain_n = alert.render(ALL, &none(), &plain());
    assert!(
        plain_n.subject.starts_with("[ERROR] web: "),
        "{}",
        plain_n.subject
    );
    assert!(plain_n.text.contains("\nAccount:           123456789012\n"));
    assert_eq!(plain_n.structured.get("accountName"), None);
}

#[test]
fn subject_limit_holds_for_long_names() {
    let long = "c".repeat(255);
    let alert = task_alert(&long, "x", vec![]);
    let sns = delivery(MessageFormat::Text, false).encode(&alert.render(ALL, &none(), &plain()));
    assert_eq!(sns.subject.len(), SUBJECT_MAX_CHARS);
    assert!(
        sns.subject
            .starts_with("[ERROR] web: essential container exited (ccc")
            && sns.subject.contains("..."),
        "{}",
        sns.subject
    );
}

#[test]
fn text_format_attributes_and_per_protocol_documents() {
    let alert = task_alert("app", "Essential container in task exited", vec!["boom"]);
    let sns = delivery(MessageFormat::Text, false).encode(&alert.render(ALL, &none(), &plain()));
    let attr = |n: &str| {
        sns.attributes
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.value_string())
    };
    assert_eq!(attr("service").as_deref(), Some("web"));
    assert_eq!(attr("cluster").as_deref(), Some("prod"));
    assert_eq!(attr("severity").as_deref(), Some("ERROR"));
    assert_eq!(attr("reason").as_deref(), Some("EssentialContainerExited"));
    let sns = delivery(MessageFormat::PerProtocol, true).encode(&alert.render(ALL, &none(), &plain()));
    let body: Value = serde_json::from_str(&sns.message).unwrap();
    let doc: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(doc["logs"]["lines"][0]["message"], "boom");
    assert_eq!(doc["container"]["exitCode"], 1);
    assert_eq!(
        doc["links"]["taskDefinition"],
        "https://us-east-1.console.aws.amazon.com/ecs/v2/task-definitions/web/3/containers?region=us-east-1"
    );
    let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
    assert_eq!(chat["content"]["textType"], "client-markdown");
}

#[test]
fn huge_logs_are_fitted_to_the_sns_limit_newest_kept() {
    let big = "x".repeat(16_000);
    let mut lines: Vec<&str> = vec![big.as_str(); 40];
    lines.push("the last line");
    let alert = task_alert("app", "r", lines);
    for format in [MessageFormat::Text, MessageFormat::PerProtocol] {
        let d = delivery(format, true);
        let (sns, detail) = d
            .fit(ALL, |detail| alert.render(detail, &none(), &plain()))
            .unwrap();
        assert!(sns.request_bytes() <= SNS_MAX_REQUEST_BYTES);
        assert!(detail.items < 41, "{detail:?}");
        assert!(
            sns.message.contains("the last line"),
            "the newest line survives fitting"
        );
    }
}

#[test]
fn health_notices_list_resources_with_links() {
    let alert = Alert::Health(HealthAlert {
        account: AccountId::parse("123456789012"),
        region: region(),
        event_type_code: "AWS_ECS_TASK_PATCHING_RETIREMENT".into(),
        category: Some("scheduledChange".into()),
        event_arn: None,
        start_time: Some("Tue, 02 Dec 2025 18:00:00 GMT".into()),
        end_time: None,
        description: Some("Line one\nLinks:\nhttps://evil.example".into()),
        entities: vec![
            AffectedEntity::Service {
                cluster: "prod".into(),
                service: "web".into(),
            },
            AffectedEntity::Other { value: "x\ny".into() },
        ],
        event_id: "h1".into(),
    });
    assert_eq!(
        alert.subject(&plain()),
        "[WARNING] ECS task retirement: 2 resources after Tue, 02 Dec 2025 18:00:00 GMT"
    );
    let n = alert.render(ALL, &none(), &plain());
    assert!(n.text.contains("  tasks of service web in cluster prod\n  https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/health?region=us-east-1\n"), "{}", n.text);
    assert!(n.text.contains("  \"x\\ny\"\n"), "{}", n.text);
    assert!(
        n.text.contains("  | Links:\n  | https://evil.example\n"),
        "{}",
        n.text
    );
    assert_eq!(n.text.matches("\nLinks:").count(), 0);
}

/// A GitHub token and an AWS secret key, 40 characters each, with text around them.
const GHP: &str = "ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4";
const AWS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn secret_unit() -> String {
    format!("op {GHP} key {AWS_KEY} ")
}

/// Units of secrets, padded so that byte `cut` falls 30 characters into a GitHub token.
fn straddling(cut: usize, len: usize) -> String {
    let unit = secret_unit();
    let pad = (cut - 30 - "op ".len()) % unit.len();
    let text = format!("{}{}", "x".repeat(pad), unit.repeat(len / unit.len() + 1));
    assert_eq!(&text[cut - 30..cut], &GHP[..30]);
    text
}

/// Where 12 characters in a row of either secret survive in what is sent.
fn secret_parts(what: &str, out: &str) -> Vec<String> {
    [GHP, AWS_KEY]
        .iter()
        .flat_map(|secret| (0..=secret.len() - 12).map(|i| &secret[i..i + 12]))
        .filter(|part| out.contains(part))
        .map(|part| format!("{what}: {part:?}"))
        .collect()
}

fn assert_no_secret_part(what: &str, out: &str) {
    let found = secret_parts(what, out);
    assert!(found.is_empty(), "parts of a secret survived: {found:?}");
}

fn assert_no_secret_in(what: &str, n: &Notification) {
    let found: Vec<String> = [
        ("text", n.text.clone()),
        ("structured", n.structured.to_string()),
        ("chat", n.chat.description.clone()),
    ]
    .iter()
    .flat_map(|(body, out)| secret_parts(&format!("{what} {body}"), out))
    .collect();
    assert!(found.is_empty(), "parts of a secret survived: {found:?}");
}

/// The newest log line straddles `LOG_BYTES`; the handler redacts what `keep_tail` kept;
/// then every cut of rendering and fitting: `item_bytes` halved by `Delivery::fit` down to
/// the chat's 500 bytes and below, and the SNS size limit.
#[test]
fn log_lines_are_cut_only_after_redaction() {
    let redactor = lookout_shared::redact::Redactor::built_in();
    let log_bytes = 2_000;
    let line = straddling(log_bytes, 40_000);
    let (kept, _) = crate::logs::keep_tail(
        vec![LogLine {
            timestamp_ms: 1,
            message: line,
        }],
        crate::logs::LogLimits {
            lines: 20,
            bytes: log_bytes,
        },
    );
    let redacted: Vec<String> = kept
        .iter()
        .map(|l| redactor.redact(&l.message).0.into_owned())
        .collect();
    let alert = task_alert("app", "r", redacted.iter().map(String::as_str).collect());
    let mut item_bytes = log_bytes;
    while item_bytes > 16 {
        assert_no_secret_in(
            &format!("item_bytes {item_bytes}"),
            &alert.render(Detail::new(1_000, item_bytes), &none(), &plain()),
        );
        item_bytes = item_bytes * 2 / 3;
    }
    // At the largest `LOG_BYTES`, one line and its JSON copy exceed SNS's limit: fitting
    // halves `item_bytes`.
    let max = Detail::new(1_000, 128 << 10);
    let long = redactor.redact(&straddling(128 << 10, 1_000_000)).0.into_owned();
    let alert = task_alert("app", "r", vec![long.as_str()]);
    let (sns, detail) = delivery(MessageFormat::PerProtocol, true)
        .fit(max, |detail| alert.render(detail, &none(), &plain()))
        .unwrap();
    assert!(detail.item_bytes < max.item_bytes, "{detail:?}");
    assert_no_secret_part("fitted SNS message", &sns.message);
}

/// Reasons and Health descriptions straddling the 8 KiB bound event parsing used to cut
/// them to, through parsing, `plan`'s redaction and every rendering.
#[test]
fn reasons_and_descriptions_are_cut_only_after_redaction() {
    let redactor = lookout_shared::redact::Redactor::built_in();
    let text = straddling(8 << 10, 12_000);
    let event = |detail_type: &str, source: &str, resources: Value, detail: Value| {
        json!({
            "version": "0", "id": "e1", "detail-type": detail_type, "source": source,
            "account": "111122223333", "time": "2025-11-25T18:00:00Z", "region": "us-west-2",
            "resources": resources, "detail": detail,
        })
    };
    let events = [
        event(
            "ECS Deployment State Change",
            "aws.ecs",
            json!(["arn:aws:ecs:us-west-2:111122223333:service/prod/web"]),
            json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                "deploymentId": "ecs-svc/1", "reason": text}),
        ),
        event(
            "AWS Health Event",
            "aws.health",
            json!([]),
            json!({"service": "ECS", "eventTypeCode": "AWS_ECS_TASK_PATCHING_RETIREMENT",
                "eventTypeCategory": "scheduledChange",
                "eventDescription": [{"language": "en_US", "latestDescription": text}],
                "affectedEntities": [{"entityValue":
                    "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad"}]}),
        ),
    ];
    let events: Vec<crate::event::Event> = events
        .iter()
        .flat_map(|e| crate::event::parse_value(e.clone()).unwrap())
        .collect();
    let plan = crate::plan::plan(events, &redactor, Severity::Warning);
    assert_eq!(plan.alerts.len(), 2);
    let found: Vec<String> = plan
        .alerts
        .iter()
        .flat_map(|crate::plan::Planned { alert, .. }| {
            let n = alert.render(ALL, &none(), &plain());
            [n.text, n.structured.to_string(), n.chat.description]
                .into_iter()
                .flat_map(|out| secret_parts(&alert.subject(&plain()), &out))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(found.is_empty(), "parts of a secret survived: {found:?}");
    // Task stop reasons are redacted by the handler once the logs are read: parsing keeps
    // them whole for it.
    let stop = event(
        "ECS Task State Change",
        "aws.ecs",
        json!([]),
        json!({
            "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
            "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
            "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/web:3",
            "lastStatus": "STOPPED", "stoppedReason": text,
            "containers": [{"name": "app", "exitCode": 1, "reason": text}],
        }),
    );
    let crate::event::EventKind::Task(task) = crate::event::parse_value(stop).unwrap().remove(0).kind else {
        panic!("a task state change");
    };
    assert_eq!(task.stopped_reason.as_deref(), Some(text.as_str()));
    assert_eq!(task.containers[0].reason.as_deref(), Some(text.as_str()));
    let reason = redactor.redact(&text).0.into_owned();
    assert_no_secret_in(
        "task stop",
        &task_alert("app", &reason, vec!["boom"]).render(ALL, &none(), &plain()),
    );
}

#[derive(serde::Deserialize)]
struct Corpus {
    cases: Vec<CorpusCase>,
}

#[derive(serde::Deserialize)]
struct CorpusCase {
    name: String,
    input: String,
    secrets: Vec<String>,
}

fn health_alert(description: &str) -> Alert {
    Alert::Health(HealthAlert {
        account: AccountId::parse("123456789012"),
        region: region(),
        event_type_code: "AWS_ECS_TASK_PATCHING_RETIREMENT".into(),
        category: None,
        event_arn: None,
        start_time: None,
        end_time: None,
        description: Some(description.into()),
        entities: Vec::new(),
        event_id: "h1".into(),
    })
}

/// Every positive case of the shared secret corpus, redacted as the handler redacts, as a
/// log line among others, as the stop and container reasons and as a Health description:
/// no secret in the text, the structured document or the chat message. A short secret may
/// also occur in our own words: only occurrences beyond the same alert without it count.
#[test]
fn no_secret_of_the_corpus_survives_in_any_format() {
    let corpus: Corpus =
        serde_json::from_str(include_str!("../../../../shared/tests/secrets-corpus.json")).unwrap();
    let redactor = lookout_shared::redact::Redactor::built_in();
    let bodies = |n: Notification| [n.text, n.structured.to_string(), n.chat.description];
    let render = |text: &str| {
        let task = task_alert("app", text, vec!["ERROR before", text, "WARN after"]);
        let mut all = bodies(task.render(ALL, &none(), &plain())).to_vec();
        all.extend(bodies(health_alert(text).render(ALL, &none(), &plain())));
        all
    };
    let baseline = render("ERROR placeholder");
    let mut checked = 0;
    for case in corpus.cases.iter().filter(|c| !c.secrets.is_empty()) {
        let sent = render(&redactor.redact(&case.input).0);
        for secret in &case.secrets {
            let escaped = serde_json::to_string(secret).unwrap();
            for needle in [secret.as_str(), &escaped[1..escaped.len() - 1]] {
                for (body, base) in sent.iter().zip(&baseline) {
                    assert!(
                        body.matches(needle).count() <= base.matches(needle).count(),
                        "{}: {needle:?} in {body}",
                        case.name
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 140, "{checked}");
}

#[test]
fn spans_read_as_people_write_them() {
    use super::span;
    let cases = [
        (-5, "<1s"),
        (999, "<1s"),
        (45_000, "45s"),
        (120_512, "2m 0s"),
        (722_489, "12m 2s"),
        (7_500_000, "2h 5m"),
        (277_200_000, "3d 5h"),
    ];
    for (ms, said) in cases {
        assert_eq!(span(ms), said, "{ms}");
    }
}

/// The resolution's text quotes what its note says (the table is input like any other), and
/// its Subject stays SNS-safe.
#[test]
fn a_resolution_quotes_its_open_alert_and_fits_the_subject() {
    use crate::alert::ResolvedAlert;
    use crate::classify::ServiceProblem;
    use crate::recovery::{OpenAlert, Opened, Recovery};
    let resolved = Alert::Resolved(Box::new(ResolvedAlert {
        recovery: Recovery {
            account: AccountId::parse("123456789012"),
            region: region(),
            cluster: "prod".into(),
            service: "s".repeat(255),
            event_name: "SERVICE_STEADY_STATE\nLinks:".into(),
            at_ms: Some(1_764_094_024_311),
            event_id: "e1".into(),
        },
        open: OpenAlert {
            what: Opened::deployment(ServiceProblem::DeploymentFailed, Some(HOSTILE)),
            severity: Severity::Critical,
            subject: HOSTILE.into(),
            at_ms: Some(1_764_095_701_822),
            since_ms: Some(1_764_095_701_822),
            key: "idem#task-alert#x".into(),
            confirmed: true,
        },
    }));
    let n = resolved.render(ALL, &none(), &plain());
    assert_eq!(n.text.matches("\nLinks:").count(), 0, "{}", n.text);
    assert!(
        !n.text.contains('\x1b') && !n.text.contains('\u{202E}'),
        "{}",
        n.text
    );
    assert!(
        n.text.contains("Failing for:       <1s\n"),
        "a steady state before the alert: {}",
        n.text
    );
    assert!(
        !n.chat.description.contains("<!channel>"),
        "{}",
        n.chat.description
    );
    let sns = delivery(MessageFormat::Text, false).encode(&n);
    assert!(sns.subject.starts_with("[RESOLVED] sss") && sns.subject.len() <= SUBJECT_MAX_CHARS);
    assert_eq!(n.structured["resolves"]["severity"], "CRITICAL");
}
