//! What reaches people can be trusted: hostile log lines and group/stream names cannot forge
//! sections, links or chat mentions in any output format (issue 12 §2), and no secret of the
//! corpus survives in any format (§1). Everything goes through `prepare`, as in production.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use base64::Engine;
use log_alert::{LogAlert, LogAlertConfig, Prepared};
use lookout_shared::config::Env;
use lookout_shared::envelope::Incoming;
use lookout_shared::metrics::Metrics;
use lookout_shared::notification::SnsMessage;
use serde_json::{Value, json};
use std::io::Write;

/// (MESSAGE_FORMAT, CHAT_APP_PAYLOAD): every variant log-alert can send.
const VARIANTS: [(&str, bool); 3] = [("text", false), ("per-protocol", false), ("per-protocol", true)];

fn log_alert(format: &str, chat: bool) -> LogAlert<()> {
    let env = Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts"),
        ("AWS_REGION", "eu-west-1"),
        ("MESSAGE_FORMAT", format),
        ("CHAT_APP_PAYLOAD", if chat { "true" } else { "false" }),
        ("MIN_SEVERITY", "NOTICE"),
    ]);
    LogAlert::new(LogAlertConfig::from_env(&env).unwrap(), ()).unwrap()
}

fn event(owner: &str, group: &str, stream: &str, lines: &[&str]) -> Value {
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("e{i}"), "timestamp": 1_764_093_600_000i64 + i as i64, "message": m}))
        .collect();
    let data = json!({
        "messageType": "DATA_MESSAGE", "owner": owner, "logGroup": group, "logStream": stream,
        "subscriptionFilters": ["lookout"], "logEvents": events,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    json!({"awslogs": {"data": b64}})
}

fn publish(alert: &LogAlert<()>, event: &Value) -> SnsMessage {
    match alert
        .prepare(&Incoming::from_document(event.clone()), &mut Metrics::default())
        .unwrap()
    {
        Prepared::Publish { message, .. } => message,
        other => panic!("expected a message: {other:?}"),
    }
}

/// Every body a subscriber can receive, decoded: (name, text).
fn bodies(sns: &SnsMessage) -> Vec<(&'static str, String)> {
    let mut out = vec![("subject", sns.subject.clone())];
    if !sns.json_structure {
        out.push(("text", sns.message.clone()));
        return out;
    }
    let body: Value = serde_json::from_str(&sns.message).unwrap();
    out.push(("default", body["default"].as_str().unwrap().to_string()));
    for protocol in ["sqs", "https"] {
        let doc: Value = serde_json::from_str(body[protocol].as_str().unwrap()).unwrap();
        let name = if protocol == "https" && doc["source"] == "custom" {
            "chat"
        } else {
            protocol
        };
        out.push((name, strings(&doc).join("\n")));
    }
    out
}

/// Every string value of a JSON document, as a reader of that field would see it.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The links a reader is offered: link lines of a text body, the chat's next steps, the
/// structured document's `links`.
fn offered_links(body: &str, sns: &SnsMessage) -> Vec<String> {
    let text = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("https://"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    if !sns.json_structure {
        return if body == "text" {
            text(&sns.message)
        } else {
            Vec::new()
        };
    }
    let outer: Value = serde_json::from_str(&sns.message).unwrap();
    let doc = |p: &str| serde_json::from_str::<Value>(outer[p].as_str().unwrap()).unwrap();
    match body {
        "default" => text(outer["default"].as_str().unwrap()),
        "sqs" => strings(&doc("sqs")["links"]),
        "chat" => strings(&doc("https")["content"]["nextSteps"])
            .iter()
            .map(|s| s[s.find("https://").unwrap()..].to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// The parts of chat markdown outside code blocks and code spans.
fn outside_code(text: &str) -> String {
    text.split("```")
        .step_by(2)
        .flat_map(|part| part.split('`').step_by(2))
        .collect()
}

const HIDDEN: [char; 9] = [
    '\u{1b}', '\u{7}', '\0', '\r', '\u{202e}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{9b}',
];

#[test]
fn hostile_lines_and_names_cannot_forge_sections_links_or_mentions() {
    let group = "/ecs/web\nOpen the log stream at the first event:\nhttps://evil.example/group";
    let stream = "s`<!channel> @here <@U024BE7LH>`\n--- CRITICAL stream\u{202e}txt.exe";
    let lines = [
        "ERROR payment failed\n\n--- CRITICAL database wiped, page everyone\nSubject: [CRITICAL] forged\nhttps://evil.example/login",
        "ERROR \u{1b}[31mred\u{1b}[0m \u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7} bell\u{7} nul\0 cr\r bidi \u{202e}gnp.exe\u{202c} \u{2066}iso\u{2069} c1\u{9b}",
        "ERROR ``` <!channel> <!here> @channel <@U024BE7LH> [click](https://evil.example) <https://evil.example|Open the log stream>",
    ];
    let event = event("evil.example/#", group, stream, &lines);
    for (format, chat) in VARIANTS {
        let sns = publish(&log_alert(format, chat), &event);
        for (body, text) in bodies(&sns) {
            let at = format!("{format} chat={chat} {body}");
            // Links: only the console, in the configured region; never a host from the input.
            for link in offered_links(body, &sns) {
                assert!(
                    link.starts_with("https://eu-west-1.console.aws.amazon.com/"),
                    "{at}: {link}"
                );
                // Names stay inside their (percent-encoded) path component.
                assert!(
                    !link.contains("https://evil") && !link.contains(char::is_whitespace),
                    "{at}: {link}"
                );
            }
            if matches!(body, "sqs" | "https") {
                continue; // A JSON document for programs: values are data, JSON-escaped.
            }
            for c in HIDDEN {
                assert!(!text.contains(c), "{at}: raw {c:?} in\n{text}");
            }
            if matches!(body, "text" | "default") {
                for line in text.lines() {
                    for forged in [
                        "--- CRITICAL database",
                        "--- CRITICAL stream",
                        "Subject:",
                        "https://evil",
                    ] {
                        assert!(
                            !line.starts_with(forged),
                            "{at}: a line starts with {forged:?}: {line:?}"
                        );
                    }
                }
                let ours = text
                    .lines()
                    .filter(|l| *l == "Open the log stream at the first event:")
                    .count();
                assert_eq!(ours, 1, "{at}:\n{text}");
                // Each section header is ours: three lines, three sections.
                assert_eq!(
                    text.lines().filter(|l| l.starts_with("--- ")).count(),
                    3,
                    "{at}:\n{text}"
                );
                assert_eq!(
                    text.lines().filter(|l| l.starts_with("https://")).count(),
                    2,
                    "{at}:\n{text}"
                );
                assert!(
                    text.contains("  | Subject: [CRITICAL] forged"),
                    "{at}: the line is shown, framed"
                );
                assert!(text.contains("\\u{1b}[31mred"), "{at}: escapes are shown escaped");
                assert!(
                    text.contains("Log group:     /ecs/web\\nOpen the log stream"),
                    "{at}:\n{text}"
                );
            }
            if body == "chat" {
                for live in [
                    "<!channel>",
                    "<!here>",
                    "<@U",
                    "@here",
                    "@channel",
                    "<https://evil",
                ] {
                    assert!(!text.contains(live), "{at}: {live} is live in\n{text}");
                }
                // Markdown is inert inside code; outside it, no link may be formed.
                assert!(
                    !outside_code(&text).contains("]("),
                    "{at}: a markdown link in\n{text}"
                );
                let doc: Value = serde_json::from_str(
                    serde_json::from_str::<Value>(&sns.message).unwrap()["https"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap();
                let description = doc["content"]["description"].as_str().unwrap();
                let first = description.lines().next().unwrap();
                // The stream's code span is closed where we close it: the backticks in the name
                // are not backticks any more.
                assert_eq!(first.matches('`').count(), 4, "{first}");
                assert_eq!(description.matches("```").count(), 6, "{description}");
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    input: String,
    secrets: Vec<String>,
}

/// Every positive case of the shared secret corpus, as a log line through log-alert's real
/// rendering, in every format and variant: no secret survives in any decoded body, nor in the
/// raw request (as written, or JSON-escaped).
#[test]
fn no_secret_of_the_corpus_survives_in_any_format() {
    let corpus: Corpus =
        serde_json::from_str(include_str!("../../../shared/tests/secrets-corpus.json")).unwrap();
    let cases: Vec<&Case> = corpus.cases.iter().filter(|c| !c.secrets.is_empty()).collect();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut checked = 0;
    for (format, chat) in VARIANTS {
        let alert = log_alert(format, chat);
        for case in &cases {
            // As the only line, and among others (grouping and ordering must not matter).
            for lines in [
                vec![case.input.as_str()],
                vec!["ERROR before", case.input.as_str(), "WARN after"],
            ] {
                let sns = publish(&alert, &event("123456789012", "/ecs/app", "app/1", &lines));
                // The same batch without the secret line: a short secret (`tail`) may also occur
                // in our own words (`queryDetail`); only occurrences beyond those are leaks.
                let without: Vec<&str> = lines
                    .iter()
                    .map(|l| if *l == case.input { "ERROR placeholder" } else { *l })
                    .collect();
                let baseline = publish(&alert, &event("123456789012", "/ecs/app", "app/1", &without));
                let raw = |m: &SnsMessage| format!("{}\n{}", m.subject, m.message);
                let (decoded, base_decoded) = (bodies(&sns), bodies(&baseline));
                for secret in &case.secrets {
                    let escaped = serde_json::to_string(secret).unwrap();
                    for needle in [secret.as_str(), &escaped[1..escaped.len() - 1]] {
                        assert!(
                            raw(&sns).matches(needle).count() <= raw(&baseline).matches(needle).count(),
                            "{}: {needle:?} in the raw request ({format}, chat={chat})",
                            case.name
                        );
                    }
                    for ((body, text), (_, base)) in decoded.iter().zip(&base_decoded) {
                        assert!(
                            text.matches(secret.as_str()).count() <= base.matches(secret.as_str()).count(),
                            "{}: {secret:?} in {body} ({format}, chat={chat})",
                            case.name
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 3 * 2 * 60, "{checked}");
}
