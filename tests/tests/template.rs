//! template.yaml's promises, checked on every run, so a later edit cannot quietly drop one:
//! every function keeps failures, nothing publishes or scans with a wildcard resource, the
//! topic and queues are encrypted, and every event source is wired with its own retries.

use lookout_tests::workspace::root;
use serde_norway::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// `!Ref X`, `!GetAtt X.Arn` → `X`.
fn target(v: &Value) -> Option<String> {
    let Value::Tagged(tagged) = v else { return None };
    let name = tagged.value.as_str()?;
    Some(name.split('.').next().unwrap_or(name).to_string())
}

fn resources(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone()))
        .collect()
}

fn of_type(t: &Value, kind: &str) -> Vec<(String, Value)> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .collect()
}

fn functions(t: &Value) -> Vec<(String, Value)> {
    of_type(t, "AWS::Serverless::Function")
}

fn resource(t: &Value, name: &str) -> Value {
    t["Resources"][name].clone()
}

/// The stack key, or the operator's: `!If [CreateKey, !GetAtt LookoutKey.Arn, !Ref KmsKeyArn]`.
fn is_stack_key(v: &Value) -> bool {
    let Value::Tagged(tagged) = v else { return false };
    let Some(branches) = tagged.value.as_sequence() else {
        return false;
    };
    tagged.tag == "!If"
        && branches.len() == 3
        && target(&branches[1]).as_deref() == Some("LookoutKey")
        && target(&branches[2]).as_deref() == Some("KmsKeyArn")
}

fn statements(function: &Value) -> Vec<Value> {
    function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(list) => list.iter().filter_map(|a| a.as_str().map(String::from)).collect(),
        _ => vec![],
    }
}

#[test]
fn every_function_keeps_its_failures_in_an_encrypted_queue() {
    let t = template();
    assert_eq!(functions(&t).len(), 3);
    for (name, f) in functions(&t) {
        let config = &f["Properties"]["EventInvokeConfig"];
        assert!(
            config["MaximumRetryAttempts"].is_tagged() || config["MaximumRetryAttempts"].is_number(),
            "{name}: retry count"
        );
        assert!(
            !config["MaximumEventAgeInSeconds"].is_null(),
            "{name}: maximum event age"
        );
        let on_failure = &config["DestinationConfig"]["OnFailure"];
        assert_eq!(
            on_failure["Type"].as_str(),
            Some("SQS"),
            "{name}: on-failure destination"
        );
        let queue = target(&on_failure["Destination"]).unwrap_or_else(|| panic!("{name}: destination"));
        let queue = resource(&t, &queue);
        assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"), "{name}");
        assert!(
            is_stack_key(&queue["Properties"]["KmsMasterKeyId"]),
            "{name}: failure queue KMS-encrypted"
        );
    }
}

#[test]
fn nothing_publishes_or_scans_with_a_wildcard_resource() {
    let t = template();
    let required_wildcards = [
        "ecr:GetRegistryScanningConfiguration",
        "inspector2:ListCoverage",
        "inspector2:ListFindings",
        "inspector2:GetConfiguration",
    ];
    let mut published = 0;
    for (name, f) in functions(&t) {
        for s in statements(&f) {
            let acts = actions(&s);
            if s["Resource"].as_str() == Some("*") {
                for a in &acts {
                    assert!(
                        required_wildcards.contains(&a.as_str()),
                        "{name}: {a} on Resource \"*\""
                    );
                }
            }
            if acts.iter().any(|a| a == "sns:Publish") {
                published += 1;
                assert!(s["Resource"].is_tagged(), "{name}: sns:Publish names the topic");
            }
            if acts
                .iter()
                .any(|a| a.starts_with("ecr:") && a != "ecr:GetRegistryScanningConfiguration")
            {
                let arn = s["Resource"].as_tagged_str().unwrap_or_default();
                assert!(
                    arn.contains(":repository/"),
                    "{name}: ECR actions scoped to repositories: {arn}"
                );
            }
            assert!(
                !acts.iter().any(|a| a.ends_with(":*") || a == "*"),
                "{name}: no wildcard actions"
            );
        }
    }
    assert_eq!(published, 3, "each function may publish to the one topic");
}

#[test]
fn the_topic_is_encrypted_and_alarms_watch_the_pipeline() {
    let t = template();
    let topic = resource(&t, "AlertTopic");
    assert!(
        is_stack_key(&topic["Properties"]["KmsMasterKeyId"]),
        "topic KMS-encrypted"
    );
    assert_eq!(
        resource(&t, "LookoutKey")["Properties"]["EnableKeyRotation"].as_bool(),
        Some(true)
    );
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let watched: Vec<String> = alarms
        .iter()
        .flat_map(|(_, a)| {
            a["Properties"]["Dimensions"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|d| match &d["Value"] {
            v @ Value::Tagged(_) => target(v),
            _ => None,
        })
        .collect();
    for (name, _) in functions(&t) {
        assert!(watched.contains(&name), "an Errors alarm on {name}");
    }
    for (name, q) in of_type(&t, "AWS::SQS::Queue") {
        assert!(watched.contains(&name), "a depth alarm on {name}");
        assert!(
            is_stack_key(&q["Properties"]["KmsMasterKeyId"]),
            "{name} KMS-encrypted"
        );
    }
}

#[test]
fn every_event_source_is_wired() {
    let t = template();
    let log_alert = &resource(&t, "LogAlertFunction")["Properties"];
    let logs = &log_alert["Events"]["FailureLines"];
    assert_eq!(logs["Type"].as_str(), Some("CloudWatchLogs"));
    assert_eq!(
        target(&logs["Properties"]["LogGroupName"]).as_deref(),
        Some("LogGroupName")
    );
    assert_eq!(
        target(&logs["Properties"]["FilterPattern"]).as_deref(),
        Some("FilterPattern")
    );

    let rescan = &resource(&t, "EcrRescanFunction")["Properties"];
    let schedule = &rescan["Events"]["Schedule"];
    assert_eq!(schedule["Type"].as_str(), Some("ScheduleV2"));
    assert_eq!(
        target(&schedule["Properties"]["ScheduleExpression"]).as_deref(),
        Some("RescanSchedule")
    );
    assert!(schedule["Properties"]["RetryPolicy"]["MaximumRetryAttempts"].is_number());
    assert_eq!(
        target(&schedule["Properties"]["DeadLetterConfig"]["Arn"]).as_deref(),
        Some("EcrRescanScheduleDeadLetterQueue")
    );

    let scan_alert = &resource(&t, "ScanAlertFunction")["Properties"];
    let mut sources = Vec::new();
    for (_, event) in scan_alert["Events"].as_mapping().expect("scan-alert events") {
        assert_eq!(event["Type"].as_str(), Some("EventBridgeRule"));
        let pattern = &event["Properties"]["Pattern"];
        for source in pattern["source"].as_sequence().expect("source") {
            for detail_type in pattern["detail-type"].as_sequence().expect("detail-type") {
                sources.push(format!(
                    "{} / {}",
                    source.as_str().unwrap_or_default(),
                    detail_type.as_str().unwrap_or_default()
                ));
            }
        }
        assert!(
            event["Properties"]["DeadLetterConfig"]["Arn"].is_tagged(),
            "rule dead-letter queue"
        );
        assert!(
            event["Properties"]["RetryPolicy"].is_mapping(),
            "rule retry policy"
        );
    }
    sources.sort();
    assert_eq!(
        sources,
        [
            "aws.ecr / ECR Image Scan",
            "aws.inspector2 / Inspector2 Finding",
            "aws.inspector2 / Inspector2 Scan"
        ]
    );
}

#[test]
fn functions_build_from_this_workspace_and_log_as_operators_expect() {
    let t = template();
    assert_eq!(
        t["Globals"]["Function"]["Runtime"].as_str(),
        Some("provided.al2023")
    );
    assert_eq!(
        t["Globals"]["Function"]["Architectures"][0].as_str(),
        Some("arm64")
    );
    for (name, f) in functions(&t) {
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
        let binary = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("Binary");
        assert!(
            root().join("functions").join(binary).join("Cargo.toml").exists(),
            "{name}: functions/{binary}"
        );
        let logging = &f["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{name}");
        let group = resource(&t, &target(&logging["LogGroup"]).expect("log group"));
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{name}: log retention"
        );
        assert!(
            !f["Properties"]["ReservedConcurrentExecutions"].is_null(),
            "{name}: reserved concurrency"
        );
        assert!(f["Properties"]["Timeout"].is_number(), "{name}: timeout");
    }
}

trait Cfn {
    fn as_tagged_str(&self) -> Option<&str>;
    fn is_tagged(&self) -> bool;
}

impl Cfn for Value {
    /// An intrinsic function: `!Ref`, `!GetAtt`, `!Sub`, `!If`.
    fn is_tagged(&self) -> bool {
        matches!(self, Value::Tagged(_))
    }

    /// The string inside `!Sub "..."`.
    fn as_tagged_str(&self) -> Option<&str> {
        match self {
            Value::Tagged(t) => t.value.as_str(),
            _ => self.as_str(),
        }
    }
}
