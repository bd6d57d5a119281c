//! template.yaml's promises, checked on every run, so a later edit cannot quietly drop one:
//! every function keeps failures, writes only its own log group and publishes nowhere else;
//! subscriptions are scoped to the groups the operator names (or the account, when asked);
//! the topic refuses forged publishers and plain-http subscribers; the alarms have a path of
//! their own; the state table has the contract the functions rely on.
//!
//! The template uses AWS::LanguageExtensions `Fn::ForEach`; [`render`] expands it for given
//! parameter values the way the transform documents (`${Id}` and `Ref Id` replaced by the
//! item, `&{Id}` by the item without its non-alphanumeric characters), so each test reads the
//! resources CloudFormation would create.

use lookout_tests::workspace::root;
use serde_norway::value::{Tag, TaggedValue};
use serde_norway::{Mapping, Value};

fn source() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// The template with `Fn::ForEach` expanded; `params` overrides parameter defaults.
fn render(params: &[(&str, &str)]) -> Value {
    let mut t = source();
    let param = |t: &Value, name: &str| -> String {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| {
                t["Parameters"][name]["Default"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
    };
    for section in ["Resources", "Outputs", "Conditions"] {
        let Some(map) = t[section].as_mapping().cloned() else {
            continue;
        };
        let mut out = Mapping::new();
        for (key, value) in map {
            let name = key.as_str().unwrap_or_default();
            if !name.starts_with("Fn::ForEach::") {
                out.insert(key, value);
                continue;
            }
            let list = value.as_sequence().expect("Fn::ForEach takes a list");
            let id = list[0].as_str().expect("Fn::ForEach identifier");
            let items: Vec<String> = match &list[1] {
                Value::Sequence(items) => items
                    .iter()
                    .map(|i| i.as_str().expect("string item").to_string())
                    .collect(),
                v @ Value::Tagged(_) => param(&t, &target(v).expect("!Ref collection"))
                    .split(',')
                    .map(String::from)
                    .collect(),
                other => panic!("Fn::ForEach collection {other:?}"),
            };
            for item in items {
                let fragment = substitute(&list[2], id, &item);
                for (k, v) in fragment.as_mapping().expect("Fn::ForEach fragment") {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        t[section] = Value::Mapping(out);
    }
    t
}

fn substitute(v: &Value, id: &str, item: &str) -> Value {
    let alnum: String = item.chars().filter(char::is_ascii_alphanumeric).collect();
    let text = |s: &str| {
        s.replace(&format!("${{{id}}}"), item)
            .replace(&format!("&{{{id}}}"), &alnum)
    };
    match v {
        Value::String(s) => Value::String(text(s)),
        Value::Sequence(list) => Value::Sequence(list.iter().map(|x| substitute(x, id, item)).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, x)| (substitute(k, id, item), substitute(x, id, item)))
                .collect(),
        ),
        Value::Tagged(t) if t.tag == "!Ref" && t.value.as_str() == Some(id) => {
            Value::String(item.to_string())
        }
        Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue {
            tag: t.tag.clone(),
            value: substitute(&t.value, id, item),
        })),
        other => other.clone(),
    }
}

/// `!Ref X`, `!GetAtt X.Arn`, `!GetAtt [X, Arn]` → `X`.
fn target(v: &Value) -> Option<String> {
    let Value::Tagged(tagged) = v else { return None };
    let name = match &tagged.value {
        Value::Sequence(list) => list.first()?.as_str()?,
        other => other.as_str()?,
    };
    Some(name.split('.').next().unwrap_or(name).to_string())
}

fn tagged<'a>(v: &'a Value, tag: &str) -> Option<&'a Value> {
    match v {
        Value::Tagged(t) if t.tag == Tag::new(tag) => Some(&t.value),
        _ => None,
    }
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
    let r = t["Resources"][name].clone();
    assert!(!r.is_null(), "no resource {name}");
    r
}

/// The stack key, or the operator's: `!If [CreateKey, !GetAtt LookoutKey.Arn, !Ref KmsKeyArn]`.
fn is_stack_key(v: &Value) -> bool {
    let Some(branches) = tagged(v, "!If").and_then(Value::as_sequence) else {
        return false;
    };
    branches.len() == 3
        && target(&branches[1]).as_deref() == Some("LookoutKey")
        && target(&branches[2]).as_deref() == Some("KmsKeyArn")
}

/// A function's role: every function names one of the template's own roles.
fn role_of(t: &Value, function: &Value) -> (String, Value) {
    let name = target(&function["Properties"]["Role"]).expect("Role: !GetAtt <Role>.Arn");
    (name.clone(), resource(t, &name))
}

/// Statements a role grants: its inline policies and the template's managed policies it attaches.
fn role_statements(t: &Value, role: &Value) -> Vec<Value> {
    let mut documents: Vec<Value> = role["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|p| p["PolicyDocument"].clone())
        .collect();
    for arn in role["Properties"]["ManagedPolicyArns"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        if let Some(name) = target(arn).filter(|n| !t["Resources"][n.as_str()].is_null()) {
            documents.push(resource(t, &name)["Properties"]["PolicyDocument"].clone());
        }
    }
    documents
        .iter()
        .flat_map(|d| d["Statement"].as_sequence().cloned().unwrap_or_default())
        .map(|s| match tagged(&s, "!If").and_then(Value::as_sequence) {
            Some(branches) => branches[1].clone(), // a statement present under a condition
            None => s,
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(list) => list.iter().filter_map(|a| a.as_str().map(String::from)).collect(),
        _ => vec![],
    }
}

/// Globals.Function merged under a function's own properties, as SAM merges maps.
fn effective(t: &Value, function: &Value, key: &str) -> Value {
    fn merge(global: &Value, own: &Value) -> Value {
        match (global, own) {
            (Value::Mapping(g), Value::Mapping(o)) => {
                let mut m = g.clone();
                for (k, v) in o {
                    let merged = merge(g.get(k).unwrap_or(&Value::Null), v);
                    m.insert(k.clone(), merged);
                }
                Value::Mapping(m)
            }
            (g, Value::Null) => g.clone(),
            (_, o) => o.clone(),
        }
    }
    merge(&t["Globals"]["Function"][key], &function["Properties"][key])
}

fn sub_text(v: &Value) -> String {
    tagged(v, "!Sub")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected !Sub \"...\", got {v:?}"))
        .to_string()
}

/// The alarm path: `AlarmTopicArn`, else the created alarm topic, else the alert topic.
fn is_alarm_path(v: &Value) -> bool {
    let Some(b) = tagged(v, "!If").and_then(Value::as_sequence) else {
        return false;
    };
    let Some(c) = tagged(&b[2], "!If").and_then(Value::as_sequence) else {
        return false;
    };
    b[0].as_str() == Some("HasAlarmTopicArn")
        && target(&b[1]).as_deref() == Some("AlarmTopicArn")
        && c[0].as_str() == Some("CreateAlarmTopic")
        && target(&c[1]).as_deref() == Some("AlarmTopic")
}

#[test]
fn every_function_keeps_its_failures_in_an_encrypted_queue() {
    let t = render(&[]);
    assert_eq!(functions(&t).len(), 4);
    for (name, f) in functions(&t) {
        let config = effective(&t, &f, "EventInvokeConfig");
        assert_eq!(
            target(&config["MaximumRetryAttempts"]).as_deref(),
            Some("MaximumRetryAttempts"),
            "{name}: retry count"
        );
        assert_eq!(
            target(&config["MaximumEventAgeInSeconds"]).as_deref(),
            Some("MaximumEventAgeInSeconds"),
            "{name}: maximum event age"
        );
        let on_failure = &config["DestinationConfig"]["OnFailure"];
        assert_eq!(
            on_failure["Type"].as_str(),
            Some("SQS"),
            "{name}: on-failure destination"
        );
        let queue_name = target(&on_failure["Destination"]).unwrap_or_else(|| panic!("{name}: destination"));
        let queue = resource(&t, &queue_name);
        assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"), "{name}");
        assert!(
            is_stack_key(&queue["Properties"]["KmsMasterKeyId"]),
            "{name}: failure queue KMS-encrypted"
        );
        // The function's own role may send there, and only there (log-alert's, with
        // Mode=organisation, also to its stream mapping's failure queue).
        let (role_name, role) = role_of(&t, &f);
        let sends: Vec<String> = role_statements(&t, &role)
            .iter()
            .filter(|s| actions(s).iter().any(|a| a == "sqs:SendMessage"))
            .filter_map(|s| target(&s["Resource"]))
            .collect();
        let mut expected = vec![queue_name];
        if name == "LogAlertFunction" {
            expected.push("LogAlertStreamFailureQueue".to_string());
        }
        assert_eq!(sends, expected, "{role_name}");
    }
}

#[test]
fn nothing_publishes_or_scans_with_a_wildcard_resource() {
    let t = render(&[("TracingMode", "Active")]);
    let required_wildcards = [
        "ecr:GetRegistryScanningConfiguration",
        "inspector2:ListCoverage",
        "inspector2:ListFindings",
        "inspector2:GetConfiguration",
        // ECS has no resource-level permission for DescribeTaskDefinition.
        "ecs:DescribeTaskDefinition",
    ];
    for (name, role) in of_type(&t, "AWS::IAM::Role") {
        for s in role_statements(&t, &role) {
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
                let topic = tagged(&s["Resource"], "!If")
                    .and_then(Value::as_sequence)
                    .expect("topic !If");
                assert_eq!(target(&topic[1]).as_deref(), Some("AlertTopic"), "{name}");
                assert_eq!(
                    target(&topic[2]).as_deref(),
                    Some("ExistingAlertTopicArn"),
                    "{name}"
                );
            }
            if acts
                .iter()
                .any(|a| a.starts_with("ecr:") && a != "ecr:GetRegistryScanningConfiguration")
            {
                let arn = sub_text(&s["Resource"]);
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
    // X-Ray needs "*": it comes from the AWS managed write-only policy, and only with tracing on.
    for (name, role) in of_type(&t, "AWS::IAM::Role") {
        for arn in role["Properties"]["ManagedPolicyArns"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            if let Some(b) = tagged(arn, "!If").and_then(Value::as_sequence) {
                assert_eq!(b[0].as_str(), Some("TracingActive"), "{name}");
                assert!(
                    sub_text(&b[1]).ends_with(":iam::aws:policy/AWSXrayWriteOnlyAccess"),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn functions_write_only_their_own_log_group() {
    let t = render(&[]);
    for (name, f) in functions(&t) {
        // SAM's generated role would attach AWSLambdaBasicExecutionRole (logs:* on "*").
        assert!(
            f["Properties"]["Policies"].is_null(),
            "{name}: explicit role, no SAM Policies"
        );
        let group = target(&f["Properties"]["LoggingConfig"]["LogGroup"]).expect("LoggingConfig.LogGroup");
        let log_group = resource(&t, &group);
        assert_eq!(log_group["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{name}");
        assert!(
            !log_group["Properties"]["RetentionInDays"].is_null(),
            "{name}: retention"
        );
        assert!(
            is_stack_key(&log_group["Properties"]["KmsKeyId"]),
            "{name}: log group encrypted"
        );

        let (role_name, role) = role_of(&t, &f);
        for arn in role["Properties"]["ManagedPolicyArns"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(
                !format!("{arn:?}").contains("AWSLambdaBasicExecutionRole"),
                "{role_name}: no basic execution role"
            );
        }
        let mut writes = 0;
        for s in role_statements(&t, &role) {
            let acts = actions(&s);
            if acts == ["logs:GetLogEvents"] {
                // task-alert reads containers' lines, from the operator's log groups only.
                for arn in s["Resource"].as_sequence().expect("GetLogEvents resources") {
                    assert!(
                        sub_text(arn).contains(":log-group:${TaskAlertLogGroups}"),
                        "{role_name}"
                    );
                }
            } else if acts.iter().any(|a| a.starts_with("logs:")) {
                writes += 1;
                assert_eq!(
                    actions(&s),
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "{role_name}"
                );
                assert_eq!(
                    target(&s["Resource"]),
                    Some(group.clone()),
                    "{role_name}: own log group only"
                );
            }
        }
        assert_eq!(writes, 1, "{role_name}: one logs statement");
    }
}

#[test]
fn the_topic_is_encrypted_and_alarms_watch_the_pipeline() {
    let t = render(&[]);
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
            // `!Sub "${LogAlertFunction}"`, `!GetAtt [LogAlertFailureQueue, QueueName]`
            v if tagged(v, "!Sub").is_some() => Some(sub_text(v).trim_matches(['$', '{', '}']).to_string()),
            v => target(v),
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
    // Errors per function (4), queue depth (7), state store problems per function (4); with
    // Mode=organisation the stream's iterator age, RecordsRejected and its failure queue's depth.
    assert_eq!(alarms.len(), 18);
}

#[test]
fn alarms_have_a_path_that_does_not_depend_on_the_alert_topic_or_key() {
    let t = render(&[("AlarmEmail", "oncall@example.com")]);
    for (name, alarm) in of_type(&t, "AWS::CloudWatch::Alarm") {
        for key in ["AlarmActions", "OKActions"] {
            for action in alarm["Properties"][key].as_sequence().into_iter().flatten() {
                assert!(is_alarm_path(action), "{name}.{key}: {action:?}");
            }
        }
        assert!(
            alarm["Properties"]["AlarmActions"].as_sequence().is_some(),
            "{name}: notifies"
        );
    }
    assert_eq!(
        resource(&t, "AlarmTopic")["Condition"].as_str(),
        Some("CreateAlarmTopic")
    );
    // No KMS key of the stack's: a broken key cannot silence the alarm about it.
    assert!(resource(&t, "AlarmTopic")["Properties"]["KmsMasterKeyId"].is_null());
    let subscription = resource(&t, "AlarmEmailSubscription");
    assert_eq!(
        target(&subscription["Properties"]["TopicArn"]).as_deref(),
        Some("AlarmTopic")
    );
    assert_eq!(
        target(&subscription["Properties"]["Endpoint"]).as_deref(),
        Some("AlarmEmail")
    );
    let conditions = &t["Conditions"];
    assert!(format!("{:?}", conditions["HasAlarmTopicArn"]).contains("AlarmTopicArn"));
    assert!(format!("{:?}", conditions["CreateAlarmTopic"]).contains("AlarmEmail"));
}

#[test]
fn the_topic_refuses_plain_http_subscribers_and_forged_publishers() {
    let t = render(&[]);
    let protocols = &t["Parameters"]["AllowedSubscriptionProtocols"];
    let default: Vec<&str> = protocols["Default"]
        .as_str()
        .expect("default")
        .split(',')
        .collect();
    assert_eq!(
        default,
        ["https", "email", "email-json", "sqs", "lambda", "firehose"]
    );
    let allowed: Vec<&str> = protocols["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!allowed.contains(&"http"), "plain http can never be allowed");

    for (topic, policy) in [
        ("AlertTopic", "AlertTopicPolicy"),
        ("AlarmTopic", "AlarmTopicPolicy"),
    ] {
        let statements = resource(&t, policy)["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .cloned()
            .expect("statements");
        let deny = |action: &str| -> Vec<Value> {
            statements
                .iter()
                .filter(|s| s["Effect"].as_str() == Some("Deny") && actions(s) == [action])
                .cloned()
                .collect()
        };
        let subscribe = deny("sns:Subscribe");
        assert_eq!(subscribe.len(), 1, "{policy}");
        assert_eq!(subscribe[0]["Principal"].as_str(), Some("*"));
        assert_eq!(target(&subscribe[0]["Resource"]).as_deref(), Some(topic));
        assert_eq!(
            target(&subscribe[0]["Condition"]["StringNotEquals"]["sns:Protocol"]).as_deref(),
            Some("AllowedSubscriptionProtocols"),
            "{policy}"
        );
        let publish = deny("sns:Publish");
        assert_eq!(publish.len(), 1, "{policy}");
        assert_eq!(publish[0]["Principal"].as_str(), Some("*"));
        assert_eq!(
            publish[0]["Condition"]["Bool"]["aws:PrincipalIsAWSService"].as_str(),
            Some("false"),
            "{policy}: only AWS services (the alarms) pass without a listed role"
        );
        let allowed: Vec<Value> = statements
            .iter()
            .filter(|s| s["Effect"].as_str() == Some("Allow"))
            .cloned()
            .collect();
        assert_eq!(allowed.len(), 1, "{policy}");
        assert_eq!(
            allowed[0]["Principal"]["Service"].as_str(),
            Some("cloudwatch.amazonaws.com")
        );
        assert_eq!(
            target(&allowed[0]["Condition"]["StringEquals"]["aws:SourceAccount"]).as_deref(),
            Some("AWS::AccountId")
        );
    }
    // On the alert topic, exactly the functions' roles may publish.
    let statements = resource(&t, "AlertTopicPolicy")["Properties"]["PolicyDocument"]["Statement"].clone();
    let publish = statements
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|s| s["Effect"].as_str() == Some("Deny") && actions(s) == ["sns:Publish"])
        .expect("publish deny");
    let mut roles: Vec<String> = publish["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        .as_sequence()
        .expect("role list")
        .iter()
        .filter_map(target)
        .collect();
    let mut function_roles: Vec<String> = functions(&t).iter().map(|(_, f)| role_of(&t, f).0).collect();
    roles.sort();
    function_roles.sort();
    assert_eq!(roles, function_roles);
}

#[test]
fn each_named_log_group_gets_its_own_filter_and_permission() {
    for groups in [
        vec!["/ecs/web"],
        vec!["/ecs/web", "/ecs/api", "/aws/lambda/orders-handler"],
    ] {
        let t = render(&[("LogGroupNames", &groups.join(","))]);
        let filters = of_type(&t, "AWS::Logs::SubscriptionFilter");
        assert_eq!(filters.len(), groups.len());
        // CloudWatch Logs' permissions (EventBridge's, for the members bus, are checked below).
        let permissions: Vec<(String, Value)> = of_type(&t, "AWS::Lambda::Permission")
            .into_iter()
            .filter(|(_, p)| p["Properties"]["Principal"].as_str() == Some("logs.amazonaws.com"))
            .collect();
        for group in &groups {
            let (name, filter) = filters
                .iter()
                .find(|(_, f)| f["Properties"]["LogGroupName"].as_str() == Some(group))
                .unwrap_or_else(|| panic!("a filter on {group}"));
            let p = &filter["Properties"];
            assert_eq!(filter["Condition"].as_str(), Some("SubscribeLogGroups"));
            assert_eq!(
                target(&p["FilterPattern"]).as_deref(),
                Some("FilterPattern"),
                "{name}"
            );
            assert_eq!(
                target(&p["DestinationArn"]).as_deref(),
                Some("LogAlertFunction"),
                "{name}"
            );
            // The filter references its own group's permission, so it is created after it.
            let permission_name = tagged(&p["FilterName"], "!GetAtt")
                .and_then(Value::as_sequence)
                .and_then(|l| l.first())
                .map(sub_text)
                .expect("FilterName: !GetAtt [!Sub <permission>, Id]");
            let permission = resource(&t, &permission_name);
            assert_eq!(permission["Type"].as_str(), Some("AWS::Lambda::Permission"));
            let pp = &permission["Properties"];
            assert_eq!(pp["Principal"].as_str(), Some("logs.amazonaws.com"));
            assert_eq!(pp["Action"].as_str(), Some("lambda:InvokeFunction"));
            assert_eq!(target(&pp["FunctionName"]).as_deref(), Some("LogAlertFunction"));
            assert_eq!(target(&pp["SourceAccount"]).as_deref(), Some("AWS::AccountId"));
            assert_eq!(
                sub_text(&pp["SourceArn"]),
                format!(
                    "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{group}:*"
                ),
                "permission for {group} only"
            );
        }
        // Per group, plus the account-wide one that exists only under its condition.
        assert_eq!(permissions.len(), groups.len() + 1);
    }
    let t = render(&[]);
    assert_eq!(
        format!("{:?}", t["Conditions"]["SubscribeLogGroups"]),
        format!(
            "{:?}",
            serde_norway::from_str::<Value>(r#"!Not [!Equals [!Join ["", !Ref LogGroupNames], ""]]"#)
                .unwrap()
        ),
        "no group named, nothing subscribed"
    );
}

#[test]
fn a_stack_that_watches_no_log_group_is_refused() {
    let t = render(&[]);
    let rule = &t["Rules"]["SubscribeSomething"]["Assertions"][0]["Assert"];
    let expected: Value = serde_norway::from_str(
        r#"!Or [!Not [!EachMemberEquals [!Ref LogGroupNames, ""]], !Equals [!Ref AccountPolicy, "true"], !Equals [!Ref Mode, organisation]]"#,
    )
    .unwrap();
    assert_eq!(format!("{rule:?}"), format!("{expected:?}"));
}

#[test]
fn lookout_never_subscribes_to_its_own_log_groups() {
    let t = render(&[]);
    // CloudFormation checks AllowedPattern on each item of a CommaDelimitedList.
    let pattern = t["Parameters"]["LogGroupNames"]["AllowedPattern"]
        .as_str()
        .expect("pattern");
    assert!(pattern.starts_with("^$|^(?!/lookout/)"), "{pattern}");
    let groups = of_type(&t, "AWS::Logs::LogGroup");
    assert_eq!(groups.len(), 4);
    for (name, g) in &groups {
        let value = &g["Properties"]["LogGroupName"];
        let sub = tagged(value, "!Sub")
            .and_then(Value::as_sequence)
            .expect("!Sub [text, vars]");
        assert!(
            sub[0]
                .as_str()
                .unwrap_or_default()
                .starts_with("/lookout/${AWS::StackName}/"),
            "{name}"
        );
    }
    // The account policy leaves out every one of them.
    let policy = resource(&t, "LogAlertAccountPolicy");
    let criteria = sub_text(&policy["Properties"]["SelectionCriteria"]);
    let list = criteria
        .strip_prefix("LogGroupName NOT IN [")
        .and_then(|c| c.strip_suffix(']'));
    let mut excluded: Vec<String> = list
        .expect("the documented form: LogGroupName NOT IN [...]")
        .split(", ")
        .map(|n| {
            n.trim_matches('"')
                .trim_start_matches("${")
                .trim_end_matches('}')
                .to_string()
        })
        .collect();
    let mut own: Vec<String> = groups.into_iter().map(|(n, _)| n).collect();
    excluded.sort();
    own.sort();
    assert_eq!(excluded, own);
}

#[test]
fn the_account_policy_exists_only_when_asked_and_is_scoped_to_the_account() {
    let t = render(&[("AccountPolicy", "true")]);
    assert_eq!(
        format!("{:?}", t["Conditions"]["UseAccountPolicy"]),
        format!(
            "{:?}",
            serde_norway::from_str::<Value>(r#"!Equals [!Ref AccountPolicy, "true"]"#).unwrap()
        )
    );
    assert_eq!(
        t["Parameters"]["AccountPolicy"]["Default"].as_str(),
        Some("false")
    );
    let permission = resource(&t, "LogAlertAccountPermission");
    assert_eq!(permission["Condition"].as_str(), Some("UseAccountPolicy"));
    let p = &permission["Properties"];
    assert_eq!(p["Principal"].as_str(), Some("logs.amazonaws.com"));
    assert_eq!(target(&p["SourceAccount"]).as_deref(), Some("AWS::AccountId"));
    assert_eq!(
        sub_text(&p["SourceArn"]),
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    );
    let policy = resource(&t, "LogAlertAccountPolicy");
    assert_eq!(policy["Condition"].as_str(), Some("UseAccountPolicy"));
    assert_eq!(policy["DependsOn"].as_str(), Some("LogAlertAccountPermission"));
    let pp = &policy["Properties"];
    assert_eq!(pp["PolicyType"].as_str(), Some("SUBSCRIPTION_FILTER_POLICY"));
    assert_eq!(pp["Scope"].as_str(), Some("ALL"));
    let document = tagged(&pp["PolicyDocument"], "!ToJsonString").expect("!ToJsonString");
    assert_eq!(
        target(&document["DestinationArn"]).as_deref(),
        Some("LogAlertFunction")
    );
    assert_eq!(
        target(&document["FilterPattern"]).as_deref(),
        Some("FilterPattern")
    );
    assert!(["Random", "ByLogStream"].contains(&document["Distribution"].as_str().unwrap_or_default()));
    // Every other logs.amazonaws.com permission is for one named group.
    for (name, perm) in of_type(&t, "AWS::Lambda::Permission") {
        if perm["Properties"]["Principal"].as_str() != Some("logs.amazonaws.com") {
            assert_eq!(
                perm["Properties"]["Principal"].as_str(),
                Some("events.amazonaws.com"),
                "{name}"
            );
            assert!(MEMBER_EVENT_RESOURCES.contains(&name.as_str()), "{name}");
        } else if name != "LogAlertAccountPermission" {
            assert_eq!(perm["Condition"].as_str(), Some("SubscribeLogGroups"), "{name}");
            assert!(
                !sub_text(&perm["Properties"]["SourceArn"]).ends_with("log-group:*"),
                "{name}"
            );
        }
    }
}

#[test]
fn the_state_table_has_the_contract_the_functions_rely_on() {
    let t = render(&[]);
    let table = resource(&t, "StateTable");
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    assert_eq!(table["Condition"].as_str(), Some("CreateStateTable"));
    let p = &table["Properties"];
    let key: Value = serde_norway::from_str("[{AttributeName: pk, KeyType: HASH}]").unwrap();
    let attributes: Value = serde_norway::from_str("[{AttributeName: pk, AttributeType: S}]").unwrap();
    assert_eq!(p["KeySchema"], key, "partition key pk only, no sort key");
    assert_eq!(p["AttributeDefinitions"], attributes);
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expiresAt")
    );
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
    assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(p["SSESpecification"]["SSEType"].as_str(), Some("KMS"));
    assert!(is_stack_key(&p["SSESpecification"]["KMSMasterKeyId"]));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );

    // STATE_TABLE for every function, unset when the table is off.
    let env = &t["Globals"]["Function"]["Environment"]["Variables"]["STATE_TABLE"];
    let b = tagged(env, "!If").and_then(Value::as_sequence).expect("!If");
    assert_eq!(b[0].as_str(), Some("CreateStateTable"));
    assert_eq!(target(&b[1]).as_deref(), Some("StateTable"));
    assert_eq!(target(&b[2]).as_deref(), Some("AWS::NoValue"));

    // Item access on that table only, and for every function.
    for (name, f) in functions(&t) {
        let (_, role) = role_of(&t, &f);
        let grants: Vec<Value> = role_statements(&t, &role)
            .into_iter()
            .filter(|s| actions(s).iter().any(|a| a.starts_with("dynamodb:")))
            .collect();
        assert_eq!(grants.len(), 1, "{name}");
        assert_eq!(
            actions(&grants[0]),
            // The store claims, decides and completes with conditional UpdateItems only.
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "{name}"
        );
        assert_eq!(
            tagged(&grants[0]["Resource"], "!GetAtt").and_then(Value::as_str),
            Some("StateTable.Arn"),
            "{name}"
        );
        let kms = role_statements(&t, &role)
            .into_iter()
            .find(|s| actions(s) == ["kms:Decrypt", "kms:GenerateDataKey"])
            .unwrap_or_else(|| panic!("{name}: the table's key"));
        assert!(is_stack_key(&kms["Resource"]), "{name}");
    }
}

/// Issue 20 §4: a broken state table fails open on every invocation; the only sign was a
/// `StateStoreProblems` metric nothing watched. Each function's count now alarms, on the
/// alarm path, whenever the table exists.
#[test]
fn state_store_problems_alarm_on_the_alarm_path() {
    let t = render(&[("AlarmEmail", "oncall@example.com")]);
    // The EMF `FunctionName` each function writes its metrics under.
    for (function, emf_name) in [
        ("LogAlert", "log-alert"),
        ("EcrRescan", "ecr-rescan"),
        ("ScanAlert", "scan-alert"),
        ("TaskAlert", "task-alert"),
    ] {
        let name = format!("{function}StateStoreAlarm");
        let alarm = resource(&t, &name);
        assert_eq!(alarm["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{name}");
        assert_eq!(alarm["Condition"].as_str(), Some("CreateStateTable"), "{name}");
        let p = &alarm["Properties"];
        assert_eq!(
            target(&p["Namespace"]).as_deref(),
            Some("MetricsNamespace"),
            "{name}"
        );
        assert_eq!(p["MetricName"].as_str(), Some("StateStoreProblems"), "{name}");
        let dimensions = p["Dimensions"].as_sequence().expect("Dimensions");
        assert_eq!(dimensions.len(), 1, "{name}");
        assert_eq!(dimensions[0]["Name"].as_str(), Some("FunctionName"), "{name}");
        let lookup = tagged(&dimensions[0]["Value"], "!FindInMap")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{name}: FunctionName from the Functions map"));
        assert_eq!(lookup[0].as_str(), Some("Functions"), "{name}");
        assert_eq!(lookup[2].as_str(), Some("Binary"), "{name}");
        let key = lookup[1].as_str().expect("the function's key");
        assert_eq!(
            t["Mappings"]["Functions"][key]["Binary"].as_str(),
            Some(emf_name),
            "{name}"
        );
        // One problem in five minutes: a broken table fails every invocation, however few.
        assert_eq!(p["Statistic"].as_str(), Some("Sum"), "{name}");
        assert_eq!(p["Period"].as_u64(), Some(300), "{name}");
        assert_eq!(p["EvaluationPeriods"].as_u64(), Some(1), "{name}");
        assert_eq!(p["Threshold"].as_u64(), Some(1), "{name}");
        assert_eq!(
            p["ComparisonOperator"].as_str(),
            Some("GreaterThanOrEqualToThreshold"),
            "{name}"
        );
        assert_eq!(p["TreatMissingData"].as_str(), Some("notBreaching"), "{name}");
        for key in ["AlarmActions", "OKActions"] {
            let actions = p[key].as_sequence().unwrap_or_else(|| panic!("{name}.{key}"));
            assert_eq!(actions.len(), 1, "{name}.{key}");
            assert!(is_alarm_path(&actions[0]), "{name}.{key}: {:?}", actions[0]);
        }
    }
}

#[test]
fn every_event_source_is_wired() {
    let t = render(&[]);
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
            target(&event["Properties"]["DeadLetterConfig"]["Arn"]).is_some(),
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

    let task_alert = &resource(&t, "TaskAlertFunction")["Properties"];
    let mut patterns = Vec::new();
    for (_, event) in task_alert["Events"].as_mapping().expect("task-alert events") {
        assert_eq!(event["Type"].as_str(), Some("EventBridgeRule"));
        assert_eq!(
            target(&event["Properties"]["DeadLetterConfig"]["Arn"]).as_deref(),
            Some("TaskAlertRuleDeadLetterQueue")
        );
        assert!(
            event["Properties"]["RetryPolicy"].is_mapping(),
            "rule retry policy"
        );
        patterns.push(event["Properties"]["Pattern"].clone());
    }
    let pattern = |detail_type: &str| {
        patterns
            .iter()
            .find(|p| p["detail-type"][0].as_str() == Some(detail_type))
            .cloned()
            .unwrap_or_else(|| panic!("a rule for {detail_type}"))
    };
    let stopped = pattern("ECS Task State Change");
    assert_eq!(stopped["source"][0].as_str(), Some("aws.ecs"));
    assert_eq!(stopped["detail"]["lastStatus"][0].as_str(), Some("STOPPED"));
    let clusters = tagged(&stopped["detail"]["clusterArn"], "!If")
        .and_then(Value::as_sequence)
        .expect("!If");
    assert_eq!(clusters[0].as_str(), Some("WatchSomeClusters"));
    assert_eq!(target(&clusters[1]).as_deref(), Some("TaskAlertClusterArns"));
    let deployments_pattern = pattern("ECS Deployment State Change");
    let deployments: Vec<&str> = deployments_pattern["detail"]["eventName"]
        .as_sequence()
        .expect("eventName")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // COMPLETED and STEADY_STATE resolve open alerts (issue 22 §4).
    assert_eq!(
        deployments,
        ["SERVICE_DEPLOYMENT_FAILED", "SERVICE_DEPLOYMENT_COMPLETED"]
    );
    let actions_pattern = pattern("ECS Service Action");
    let names: Vec<&str> = actions_pattern["detail"]["eventName"]
        .as_sequence()
        .expect("eventName")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "SERVICE_TASK_PLACEMENT_FAILURE",
            "SERVICE_TASK_CONFIGURATION_FAILURE",
            "SERVICE_TASK_START_IMPAIRED",
            "SERVICE_STEADY_STATE"
        ]
    );
    let health = pattern("AWS Health Event");
    assert_eq!(health["source"][0].as_str(), Some("aws.health"));
    assert_eq!(health["detail"]["service"][0].as_str(), Some("ECS"));
}

#[test]
fn functions_build_from_this_workspace_and_log_as_operators_expect() {
    let t = render(&[]);
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
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
        assert_eq!(
            effective(&t, &f, "LoggingConfig")["LogFormat"].as_str(),
            Some("JSON"),
            "{name}"
        );
        assert!(
            !f["Properties"]["ReservedConcurrentExecutions"].is_null(),
            "{name}: reserved concurrency"
        );
        assert!(effective(&t, &f, "Timeout").is_number(), "{name}: timeout");
        let env = effective(&t, &f, "Environment");
        for variable in [
            "ALERT_TOPIC_ARN",
            "MESSAGE_FORMAT",
            "METRICS_NAMESPACE",
            "STATE_TABLE",
        ] {
            assert!(!env["Variables"][variable].is_null(), "{name}: {variable}");
        }
    }
}

// ---- Organisation mode (issue 23): the member accounts' logs through a destination and Kinesis ----

fn member() -> Value {
    let text = std::fs::read_to_string(root().join("org/member.yaml")).expect("org/member.yaml");
    serde_norway::from_str(&text).expect("org/member.yaml is YAML")
}

fn parse(yaml: &str) -> Value {
    serde_norway::from_str(yaml).unwrap()
}

/// `v` as CloudFormation resolves it for the given condition values: each `!If [c, a, b]` whose
/// condition is named becomes its branch, and a `!Ref AWS::NoValue` that results is left out.
fn choose(v: &Value, conditions: &[(&str, bool)]) -> Value {
    fn pick(v: &Value, conditions: &[(&str, bool)]) -> Option<Value> {
        match v {
            Value::Tagged(t) if t.tag == "!Ref" && t.value.as_str() == Some("AWS::NoValue") => None,
            Value::Tagged(t) if t.tag == "!If" => {
                let b = t.value.as_sequence().expect("!If [condition, then, else]");
                match conditions.iter().find(|(c, _)| b[0].as_str() == Some(*c)) {
                    Some((_, true)) => pick(&b[1], conditions),
                    Some((_, false)) => pick(&b[2], conditions),
                    None => Some(Value::Tagged(Box::new(TaggedValue {
                        tag: t.tag.clone(),
                        value: Value::Sequence(b.iter().filter_map(|x| pick(x, conditions)).collect()),
                    }))),
                }
            }
            Value::Tagged(t) => Some(Value::Tagged(Box::new(TaggedValue {
                tag: t.tag.clone(),
                value: pick(&t.value, conditions).unwrap_or(Value::Null),
            }))),
            Value::Sequence(list) => Some(Value::Sequence(
                list.iter().filter_map(|x| pick(x, conditions)).collect(),
            )),
            Value::Mapping(m) => Some(Value::Mapping(
                m.iter()
                    .filter_map(|(k, x)| pick(x, conditions).map(|x| (k.clone(), x)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    pick(v, conditions).unwrap_or(Value::Null)
}

/// The pseudo parameters, for [`eval`]: the stack `lookout` in account 123456789012, us-east-1.
const PSEUDO: [(&str, &str); 4] = [
    ("AWS::Partition", "aws"),
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::StackName", "lookout"),
];

/// The intrinsic functions a policy string is built with, evaluated as CloudFormation would for
/// the given parameter values (the others at their defaults; a CommaDelimitedList is a list):
/// `!Ref`, `!Sub` (text, or [text, variables]), `!Join`, `!Split`; `!GetAtt X.Arn` is `X.Arn`.
fn eval(t: &Value, v: &Value, params: &[(&str, &str)]) -> Value {
    let parameter = |name: &str| -> Value {
        if let Some((_, value)) = PSEUDO.iter().find(|(p, _)| *p == name) {
            return Value::String(value.to_string());
        }
        let declared = &t["Parameters"][name];
        assert!(!declared.is_null(), "no parameter {name}");
        let value = params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| declared["Default"].as_str().unwrap_or_default().to_string());
        if declared["Type"].as_str() == Some("CommaDelimitedList") {
            Value::Sequence(value.split(',').map(|s| Value::String(s.to_string())).collect())
        } else {
            Value::String(value)
        }
    };
    let text = |v: &Value| -> String {
        eval(t, v, params)
            .as_str()
            .unwrap_or_else(|| panic!("a string: {v:?}"))
            .to_string()
    };
    let Value::Tagged(tagged) = v else {
        return match v {
            Value::Sequence(list) => Value::Sequence(list.iter().map(|x| eval(t, x, params)).collect()),
            Value::Mapping(m) => {
                Value::Mapping(m.iter().map(|(k, x)| (k.clone(), eval(t, x, params))).collect())
            }
            other => other.clone(),
        };
    };
    let args = tagged.value.as_sequence();
    match tagged.tag.to_string().as_str() {
        "!Ref" => parameter(tagged.value.as_str().expect("!Ref name")),
        "!GetAtt" => Value::String(match &tagged.value {
            Value::Sequence(l) => format!("{}.{}", l[0].as_str().unwrap(), l[1].as_str().unwrap()),
            other => other.as_str().expect("!GetAtt X.Attr").to_string(),
        }),
        "!Join" => {
            let a = args.expect("!Join [delimiter, list]");
            let items = eval(t, &a[1], params);
            let items: Vec<String> = items
                .as_sequence()
                .expect("!Join list")
                .iter()
                .map(|i| i.as_str().expect("string item").to_string())
                .collect();
            Value::String(items.join(a[0].as_str().expect("literal delimiter")))
        }
        "!Split" => {
            let a = args.expect("!Split [delimiter, string]");
            let whole = text(&a[1]);
            Value::Sequence(
                whole
                    .split(a[0].as_str().expect("literal delimiter"))
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        "!Sub" => {
            let (template, vars) = match args {
                Some(a) => (a[0].as_str().expect("!Sub text"), a[1].clone()),
                None => (tagged.value.as_str().expect("!Sub text"), Value::Null),
            };
            let mut out = String::new();
            let mut rest = template;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = start + rest[start..].find('}').expect("closing }");
                let name = &rest[start + 2..end];
                let value = match vars.get(name) {
                    Some(v) => text(v),
                    None => parameter(name).as_str().expect("a string parameter").to_string(),
                };
                out.push_str(&value);
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        other => panic!("eval: {other} not supported"),
    }
}

/// A policy document written as a JSON string, parsed.
fn json(v: &Value) -> serde_json::Value {
    let text = v.as_str().unwrap_or_else(|| panic!("a JSON string, got {v:?}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"))
}

/// The resources Mode=organisation adds, each of them only under its condition.
const ORGANISATION_RESOURCES: [&str; 8] = [
    "LogAlertStream",
    "LogAlertDestinationRole",
    "LogAlertDestination",
    "LogAlertStreamFailureQueue",
    "LogAlertStreamFailureQueueAlarm",
    "LogAlertStreamMapping",
    "LogAlertStreamIteratorAgeAlarm",
    "LogAlertRecordsRejectedAlarm",
];

#[test]
fn organisation_mode_is_asked_for_and_needs_its_senders() {
    let t = render(&[]);
    let mode = &t["Parameters"]["Mode"];
    assert_eq!(
        mode["Default"].as_str(),
        Some("account"),
        "single-account by default"
    );
    assert_eq!(mode["AllowedValues"], parse("[account, organisation]"));
    assert_eq!(
        format!("{:?}", t["Conditions"]["Organisation"]),
        format!("{:?}", parse("!Equals [!Ref Mode, organisation]"))
    );
    for name in ORGANISATION_RESOURCES {
        assert_eq!(
            resource(&t, name)["Condition"].as_str(),
            Some("Organisation"),
            "{name}"
        );
    }
    for kind in [
        "AWS::Kinesis::Stream",
        "AWS::Logs::Destination",
        "AWS::Lambda::EventSourceMapping",
    ] {
        for (name, _) in of_type(&t, kind) {
            assert!(ORGANISATION_RESOURCES.contains(&name.as_str()), "{name}");
        }
    }
    // A destination nobody may subscribe to is refused before anything is created.
    let rule = &t["Rules"]["OrganisationNamesItsSenders"];
    assert_eq!(
        format!("{:?}", rule["RuleCondition"]),
        format!("{:?}", parse("!Equals [!Ref Mode, organisation]"))
    );
    assert_eq!(
        format!("{:?}", rule["Assertions"][0]["Assert"]),
        format!(
            "{:?}",
            parse(
                r#"!Or [!Not [!Equals [!Ref OrganizationId, ""]], !Not [!EachMemberEquals [!Ref MemberAccountIds, ""]]]"#
            )
        )
    );
    // Without the state table a stream retry would repeat every alert after its first failure.
    assert_eq!(
        format!("{:?}", rule["Assertions"][1]["Assert"]),
        format!("{:?}", parse(r#"!Equals [!Ref EnableStateTable, "true"]"#))
    );
    assert_eq!(
        format!("{:?}", t["Conditions"]["SendersByOrganization"]),
        format!("{:?}", parse(r#"!Not [!Equals [!Ref OrganizationId, ""]]"#))
    );
}

#[test]
fn the_destination_policy_is_org_scoped_when_an_organisation_is_named() {
    let t = render(&[]);
    let destination = resource(&t, "LogAlertDestination");
    let p = &destination["Properties"];
    assert_eq!(target(&p["TargetArn"]).as_deref(), Some("LogAlertStream"));
    assert_eq!(target(&p["RoleArn"]).as_deref(), Some("LogAlertDestinationRole"));
    let name = eval(&t, &p["DestinationName"], &[]);
    let own_arn = format!(
        "arn:aws:logs:us-east-1:123456789012:destination:{}",
        name.as_str().unwrap()
    );
    let actions = ["logs:PutSubscriptionFilter", "logs:PutAccountPolicy"];

    // OrganizationId set: any principal of that organisation, and only of it.
    let params = [("OrganizationId", "o-a1b2c3d4e5")];
    let by_org = json(&eval(
        &t,
        &choose(&p["DestinationPolicy"], &[("SendersByOrganization", true)]),
        &params,
    ));
    let statements = by_org["Statement"].as_array().expect("Statement");
    assert_eq!(statements.len(), 1, "{by_org}");
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Principal"], "*");
    assert_eq!(s["Action"], serde_json::json!(actions));
    assert_eq!(s["Resource"], own_arn.as_str());
    assert_eq!(
        s["Condition"],
        serde_json::json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
    );

    // Without it: the listed accounts, by id.
    let params = [("MemberAccountIds", "111111111111,222222222222")];
    let by_account = json(&eval(
        &t,
        &choose(&p["DestinationPolicy"], &[("SendersByOrganization", false)]),
        &params,
    ));
    let statements = by_account["Statement"].as_array().expect("Statement");
    assert_eq!(statements.len(), 1, "{by_account}");
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(
        s["Principal"],
        serde_json::json!({"AWS": ["111111111111", "222222222222"]})
    );
    assert_eq!(s["Action"], serde_json::json!(actions));
    assert_eq!(s["Resource"], own_arn.as_str());
    assert!(s.get("Condition").is_none(), "{s}");

    // CloudWatch Logs may write to the stream as this role on behalf of the same senders only
    // (and of this account, which sends the test record on creation).
    let role = resource(&t, "LogAlertDestinationRole");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().map(Vec::len), Some(1));
    assert_eq!(
        trust[0]["Principal"]["Service"].as_str(),
        Some("logs.amazonaws.com")
    );
    assert_eq!(trust[0]["Action"].as_str(), Some("sts:AssumeRole"));
    let org = eval(
        &t,
        &choose(&trust[0]["Condition"], &[("SendersByOrganization", true)]),
        &[("OrganizationId", "o-a1b2c3d4e5")],
    );
    assert_eq!(org, parse("StringEquals: {aws:SourceOrgID: o-a1b2c3d4e5}"));
    let accounts = eval(
        &t,
        &choose(&trust[0]["Condition"], &[("SendersByOrganization", false)]),
        &[("MemberAccountIds", "111111111111,222222222222")],
    );
    assert_eq!(
        accounts,
        parse(r#"StringEquals: {aws:SourceAccount: ["123456789012", "111111111111", "222222222222"]}"#)
    );
    let statements = role_statements(&t, &role);
    assert_eq!(statements.len(), 2);
    for s in &statements {
        match actions_of(s).as_slice() {
            ["kinesis:PutRecord", "kinesis:PutRecords"] => {
                assert_eq!(target(&s["Resource"]).as_deref(), Some("LogAlertStream"))
            }
            ["kms:GenerateDataKey"] => assert!(is_stack_key(&s["Resource"])),
            other => panic!("LogAlertDestinationRole: {other:?}"),
        }
    }
}

fn actions_of(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

#[test]
fn the_stream_and_its_failure_queue_are_encrypted_with_the_stack_key() {
    let t = render(&[]);
    let stream = &resource(&t, "LogAlertStream")["Properties"];
    assert_eq!(
        stream["StreamModeDetails"]["StreamMode"].as_str(),
        Some("ON_DEMAND")
    );
    assert!(stream["ShardCount"].is_null(), "on-demand: no shard count");
    assert_eq!(stream["StreamEncryption"]["EncryptionType"].as_str(), Some("KMS"));
    assert!(
        is_stack_key(&stream["StreamEncryption"]["KeyId"]),
        "stream KMS-encrypted"
    );
    let queue = &resource(&t, "LogAlertStreamFailureQueue")["Properties"];
    assert!(
        is_stack_key(&queue["KmsMasterKeyId"]),
        "failure queue KMS-encrypted"
    );
    assert_eq!(queue["MessageRetentionPeriod"].as_u64(), Some(1_209_600));
}

#[test]
fn the_stream_mapping_reports_partial_failures_and_gives_up_boundedly() {
    let t = render(&[("AlarmEmail", "oncall@example.com")]);
    let mapping = resource(&t, "LogAlertStreamMapping");
    let p = &mapping["Properties"];
    assert_eq!(target(&p["EventSourceArn"]).as_deref(), Some("LogAlertStream"));
    assert_eq!(target(&p["FunctionName"]).as_deref(), Some("LogAlertFunction"));
    assert_eq!(p["StartingPosition"].as_str(), Some("TRIM_HORIZON"));
    assert_eq!(p["FunctionResponseTypes"], parse("[ReportBatchItemFailures]"));
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    // Bounded: Lambda's default (-1) retries until the record expires, holding its shard.
    let retries = p["MaximumRetryAttempts"].as_i64().expect("MaximumRetryAttempts");
    assert!((0..=100).contains(&retries), "{retries}");
    assert_eq!(
        target(&p["MaximumRecordAgeInSeconds"]).as_deref(),
        Some("MaximumEventAgeInSeconds")
    );
    // Every record gives up (to the failure queue) before the stream lets it expire, with time
    // left to read it back.
    let age = &t["Parameters"]["MaximumEventAgeInSeconds"];
    let retention = resource(&t, "LogAlertStream")["Properties"]["RetentionPeriodHours"]
        .as_u64()
        .expect("RetentionPeriodHours")
        * 3600;
    assert!(
        age["MinValue"].as_u64().unwrap() >= 60,
        "Lambda's minimum record age"
    );
    assert!(
        age["MaxValue"].as_u64().unwrap() * 2 <= retention,
        "{age:?} vs {retention} s"
    );
    assert_eq!(
        target(&p["DestinationConfig"]["OnFailure"]["Destination"]).as_deref(),
        Some("LogAlertStreamFailureQueue")
    );
    let batch = p["BatchSize"].as_u64().expect("BatchSize");
    assert!((1..=10_000).contains(&batch), "{batch}");
    // On-demand streams start with 4 shards: their concurrent batches fit log-alert's default
    // reserved concurrency.
    let factor = p["ParallelizationFactor"]
        .as_u64()
        .expect("ParallelizationFactor");
    let reserved: u64 = t["Parameters"]["LogAlertReservedConcurrency"]["Default"]
        .as_u64()
        .expect("default concurrency");
    assert!((1..=10).contains(&factor) && 4 * factor <= reserved, "{factor}");

    // log-alert's role reads that stream (and writes nothing to it), under the same condition.
    let (_, role) = role_of(&t, &resource(&t, "LogAlertFunction"));
    let conditional: Vec<Value> = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
        .iter()
        .filter_map(|s| tagged(s, "!If").and_then(Value::as_sequence).cloned())
        .inspect(|b| assert_eq!(b[0].as_str(), Some("Organisation")))
        .map(|b| b[1].clone())
        .collect();
    let reads = conditional
        .iter()
        .find(|s| actions_of(s).iter().any(|a| a.starts_with("kinesis:")))
        .expect("a kinesis statement");
    assert_eq!(
        actions_of(reads),
        [
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards"
        ]
    );
    assert_eq!(target(&reads["Resource"]).as_deref(), Some("LogAlertStream"));

    // A stuck shard and rejected records each raise an alarm on the alarm path.
    let age_alarm = &resource(&t, "LogAlertStreamIteratorAgeAlarm")["Properties"];
    assert_eq!(age_alarm["Namespace"].as_str(), Some("AWS/Kinesis"));
    assert_eq!(
        age_alarm["MetricName"].as_str(),
        Some("GetRecords.IteratorAgeMilliseconds")
    );
    assert_eq!(age_alarm["Dimensions"][0]["Name"].as_str(), Some("StreamName"));
    assert_eq!(
        target(&age_alarm["Dimensions"][0]["Value"]).as_deref(),
        Some("LogAlertStream")
    );
    assert_eq!(age_alarm["Statistic"].as_str(), Some("Maximum"));
    // Well before a record gives up (MaximumEventAgeInSeconds is at least 60 s; the default 6 h).
    let threshold = age_alarm["Threshold"].as_u64().expect("Threshold");
    assert!(threshold <= 15 * 60 * 1000, "{threshold} ms");
    // Nobody reading is as bad as reading late.
    assert_eq!(age_alarm["TreatMissingData"].as_str(), Some("breaching"));
    let rejected = &resource(&t, "LogAlertRecordsRejectedAlarm")["Properties"];
    assert_eq!(
        target(&rejected["Namespace"]).as_deref(),
        Some("MetricsNamespace")
    );
    assert_eq!(rejected["MetricName"].as_str(), Some("RecordsRejected"));
    assert_eq!(
        rejected["Dimensions"][0],
        parse("{Name: FunctionName, Value: !FindInMap [Functions, LogAlert, Binary]}")
    );
    assert_eq!(
        t["Mappings"]["Functions"]["LogAlert"]["Binary"].as_str(),
        Some("log-alert")
    );
    assert_eq!(rejected["Threshold"].as_u64(), Some(1));
    for alarm in [age_alarm, rejected] {
        for key in ["AlarmActions", "OKActions"] {
            assert!(is_alarm_path(&alarm[key][0]), "{key}");
        }
    }
}

#[test]
fn log_alert_names_accounts_from_a_parameter() {
    let t = render(&[]);
    let f = resource(&t, "LogAlertFunction");
    let env = effective(&t, &f, "Environment");
    assert_eq!(
        target(&env["Variables"]["ACCOUNT_NAMES"]).as_deref(),
        Some("AccountNames")
    );
    let default = t["Parameters"]["AccountNames"]["Default"]
        .as_str()
        .expect("default");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(default).unwrap(),
        serde_json::json!({})
    );
}

#[test]
fn the_member_template_is_plain_cloudformation_and_sends_to_the_destination() {
    let m = member();
    // A service-managed StackSet deploys it: no transform, no function to run or pay for.
    assert!(m["Transform"].is_null(), "no Transform");
    for (name, r) in resources(&m) {
        let kind = r["Type"].as_str().unwrap_or_default();
        assert!(
            !kind.contains("Lambda") && !kind.contains("Serverless"),
            "{name}: {kind}"
        );
    }
    let destination = "arn:aws:logs:us-east-1:123456789012:destination:lookout-log-alert";
    // The central stack's destination ARN is what the member's parameter accepts.
    let pattern = m["Parameters"]["DestinationArn"]["AllowedPattern"]
        .as_str()
        .expect("AllowedPattern");
    let central = render(&[]);
    let name = eval(
        &central,
        &resource(&central, "LogAlertDestination")["Properties"]["DestinationName"],
        &[],
    );
    assert_eq!(
        destination,
        format!(
            "arn:aws:logs:us-east-1:123456789012:destination:{}",
            name.as_str().unwrap()
        )
    );
    assert!(
        regex::Regex::new(pattern).unwrap().is_match(destination),
        "{pattern}"
    );

    let policies = of_type(&m, "AWS::Logs::AccountPolicy");
    assert_eq!(policies.len(), 1);
    let p = &policies[0].1["Properties"];
    assert_eq!(p["PolicyType"].as_str(), Some("SUBSCRIPTION_FILTER_POLICY"));
    assert_eq!(p["Scope"].as_str(), Some("ALL"));
    // The policy document is a JSON string built without Fn::ToJsonString: the pattern must
    // survive the escaping, the default one and one with quotes and backslashes alike.
    let default = m["Parameters"]["FilterPattern"]["Default"]
        .as_str()
        .unwrap()
        .to_string();
    for pattern in [default.as_str(), r#"{ $.message = "a \"quoted\" C:\\path" }"#] {
        let params = [("DestinationArn", destination), ("FilterPattern", pattern)];
        let document = json(&eval(&m, &p["PolicyDocument"], &params));
        assert_eq!(document["DestinationArn"], destination);
        assert_eq!(document["FilterPattern"], pattern);
        assert_eq!(document["RoleArn"], "LogSubscriptionRole.Arn");
        assert_eq!(document["Distribution"], "Random");
    }

    // The listed groups are left out, in the one form PutAccountPolicy accepts; none listed,
    // no criteria.
    let groups = "/lookout/lookout/log-alert,/lookout/lookout/task-alert";
    let criteria = eval(
        &m,
        &choose(&p["SelectionCriteria"], &[("ExcludeSomeGroups", true)]),
        &[("ExcludedLogGroups", groups)],
    );
    assert_eq!(
        criteria.as_str(),
        Some(r#"LogGroupName NOT IN ["/lookout/lookout/log-alert", "/lookout/lookout/task-alert"]"#)
    );
    assert!(choose(&p["SelectionCriteria"], &[("ExcludeSomeGroups", false)]).is_null());
    assert_eq!(
        format!("{:?}", m["Conditions"]["ExcludeSomeGroups"]),
        format!(
            "{:?}",
            parse(r#"!Not [!Equals [!Join ["", !Ref ExcludedLogGroups], ""]]"#)
        )
    );
    // Group names hold no character that would need escaping inside that string.
    let allowed = m["Parameters"]["ExcludedLogGroups"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(!allowed.contains('"') && !allowed.contains("\\\\"), "{allowed}");

    // The role CloudWatch Logs assumes for this account: its log groups of this region only.
    let role = resource(&m, "LogSubscriptionRole");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"].as_str(), Some("logs.amazonaws.com"));
    assert_eq!(
        target(&trust["Condition"]["StringEquals"]["aws:SourceAccount"]).as_deref(),
        Some("AWS::AccountId")
    );
    let statements = role_statements(&m, &role);
    assert_eq!(statements.len(), 1);
    assert_eq!(actions_of(&statements[0]), ["logs:PutLogEvents"]);
    assert_eq!(
        sub_text(&statements[0]["Resource"]),
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    );
}

#[test]
fn both_templates_default_to_the_same_filter_pattern() {
    let central = source();
    let m = member();
    let default = |t: &Value| {
        t["Parameters"]["FilterPattern"]["Default"]
            .as_str()
            .map(String::from)
    };
    assert!(default(&central).is_some());
    assert_eq!(default(&m), default(&central));
    assert_eq!(
        m["Parameters"]["FilterPattern"]["MaxLength"],
        central["Parameters"]["FilterPattern"]["MaxLength"]
    );
}

// ---- Organisation mode (issue 24): member accounts' events and the reader role ----

/// The resources Mode=organisation adds for the member accounts' events, each only under its
/// condition.
const MEMBER_EVENT_RESOURCES: [&str; 14] = [
    "MembersEventBus",
    "MembersEventBusPolicy",
    "TaskAlertStoppedTasksMembersRule",
    "TaskAlertFailedDeploymentsMembersRule",
    "TaskAlertServiceActionsMembersRule",
    "TaskAlertHealthEventsMembersRule",
    "ScanAlertBasicScanResultsMembersRule",
    "ScanAlertInspectorResultsMembersRule",
    "TaskAlertStoppedTasksMembersPermission",
    "TaskAlertFailedDeploymentsMembersPermission",
    "TaskAlertServiceActionsMembersPermission",
    "TaskAlertHealthEventsMembersPermission",
    "ScanAlertBasicScanResultsMembersPermission",
    "ScanAlertInspectorResultsMembersPermission",
];

/// The functions whose events come from member accounts too, and their roles.
const EVENT_FUNCTIONS: [&str; 2] = ["TaskAlert", "ScanAlert"];
const MEMBER_READERS: [&str; 3] = ["TaskAlertRole", "ScanAlertRole", "EcrRescanRole"];

/// A function's SAM EventBridgeRule events (on the default bus), by event name.
fn sam_events(t: &Value, function: &str) -> Vec<(String, Value)> {
    resource(t, &format!("{function}Function"))["Properties"]["Events"]
        .as_mapping()
        .expect("Events")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

#[test]
fn the_members_bus_takes_events_from_the_organisation_or_the_listed_accounts_only() {
    let t = render(&[]);
    let bus = resource(&t, "MembersEventBus");
    assert_eq!(bus["Type"].as_str(), Some("AWS::Events::EventBus"));
    // Named after the stack: the rules' dead-letter queues accept `rule/<stack>-*`, and a rule on
    // this bus is `rule/<bus>/<rule>`.
    let name = eval(&t, &bus["Properties"]["Name"], &[]);
    assert!(name.as_str().unwrap().starts_with("lookout-"), "{name:?}");
    for function in EVENT_FUNCTIONS {
        let queue = resource(&t, &format!("{function}RuleDeadLetterQueuePolicy"));
        let statement = &queue["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(
            sub_text(&statement["Condition"]["ArnLike"]["aws:SourceArn"]),
            "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-*"
        );
    }

    let policy = resource(&t, "MembersEventBusPolicy");
    assert_eq!(policy["Type"].as_str(), Some("AWS::Events::EventBusPolicy"));
    let p = &policy["Properties"];
    assert_eq!(target(&p["EventBusName"]).as_deref(), Some("MembersEventBus"));
    assert!(p["Principal"].is_null() && p["Action"].is_null() && p["Condition"].is_null());

    // OrganizationId set: any principal of that organisation, PutEvents only, on this bus only.
    let by_org = eval(
        &t,
        &choose(&p["Statement"], &[("SendersByOrganization", true)]),
        &[("OrganizationId", "o-a1b2c3d4e5")],
    );
    assert_eq!(
        by_org,
        parse(
            r#"{Effect: Allow, Principal: "*", Action: "events:PutEvents", Resource: MembersEventBus.Arn,
                Condition: {StringEquals: {aws:PrincipalOrgID: o-a1b2c3d4e5}}}"#
        )
    );
    // Without it: the listed accounts, by id, and no one else.
    let by_account = eval(
        &t,
        &choose(&p["Statement"], &[("SendersByOrganization", false)]),
        &[("MemberAccountIds", "111111111111,222222222222")],
    );
    assert_eq!(
        by_account,
        parse(
            r#"{Effect: Allow, Principal: {AWS: ["111111111111", "222222222222"]}, Action: "events:PutEvents",
                Resource: MembersEventBus.Arn}"#
        )
    );
}

#[test]
fn task_alert_and_scan_alert_rules_are_on_both_buses_with_identical_patterns() {
    let t = render(&[]);
    let mut members_rules = Vec::new();
    for function in EVENT_FUNCTIONS {
        let events = sam_events(&t, function);
        assert!(!events.is_empty(), "{function}");
        for (event, sam) in events {
            let name = format!("{function}{event}MembersRule");
            members_rules.push(name.clone());
            // The SAM event is on the default bus.
            assert!(sam["Properties"]["EventBusName"].is_null(), "{function}.{event}");
            let rule = resource(&t, &name);
            assert_eq!(rule["Type"].as_str(), Some("AWS::Events::Rule"), "{name}");
            assert_eq!(rule["Condition"].as_str(), Some("Organisation"), "{name}");
            let p = &rule["Properties"];
            assert_eq!(
                target(&p["EventBusName"]).as_deref(),
                Some("MembersEventBus"),
                "{name}"
            );
            assert_eq!(
                p["EventPattern"], sam["Properties"]["Pattern"],
                "{name}: the same pattern as {function}Function's {event}"
            );
            assert!(
                p["State"].is_null() || p["State"].as_str() == Some("ENABLED"),
                "{name}"
            );
            // The same function, retries and dead-letter queue as the default bus's rule.
            let targets = p["Targets"].as_sequence().expect("Targets");
            assert_eq!(targets.len(), 1, "{name}");
            assert_eq!(
                target(&targets[0]["Arn"]),
                Some(format!("{function}Function")),
                "{name}"
            );
            assert_eq!(
                targets[0]["RetryPolicy"], sam["Properties"]["RetryPolicy"],
                "{name}"
            );
            assert_eq!(
                target(&targets[0]["DeadLetterConfig"]["Arn"]),
                target(&sam["Properties"]["DeadLetterConfig"]["Arn"]),
                "{name}"
            );
            assert!(targets[0]["RoleArn"].is_null(), "{name}: Lambda needs no role");
            // That rule, and only it, may invoke the function.
            let permission = resource(&t, &format!("{function}{event}MembersPermission"));
            assert_eq!(permission["Condition"].as_str(), Some("Organisation"));
            let pp = &permission["Properties"];
            assert_eq!(pp["Principal"].as_str(), Some("events.amazonaws.com"));
            assert_eq!(pp["Action"].as_str(), Some("lambda:InvokeFunction"));
            assert_eq!(target(&pp["FunctionName"]), Some(format!("{function}Function")));
            let source = tagged(&pp["SourceArn"], "!GetAtt")
                .and_then(Value::as_sequence)
                .expect("SourceArn: !GetAtt [!Sub <rule>, Arn]");
            assert_eq!(sub_text(&source[0]), name);
            assert_eq!(source[1].as_str(), Some("Arn"));
        }
    }
    // No other rule on any bus.
    let mut rules: Vec<String> = of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    rules.sort();
    members_rules.sort();
    assert_eq!(rules, members_rules);
}

#[test]
fn member_rules_forward_the_central_patterns_to_the_central_bus_with_a_put_only_role() {
    let central = render(&[]);
    let m = member();
    let rules = of_type(&m, "AWS::Events::Rule");
    let mut forwarded = Vec::new();
    for function in EVENT_FUNCTIONS {
        for (event, sam) in sam_events(&central, function) {
            let name = format!("Forward{event}");
            let rule = resource(&m, &name);
            assert_eq!(rule["Condition"].as_str(), Some("ForwardEvents"), "{name}");
            // The central rule on the members bus filters by TaskAlertClusterArns; the member
            // forwards every cluster's.
            let central_pattern = choose(&sam["Properties"]["Pattern"], &[("WatchSomeClusters", false)]);
            // Only the member's own events are forwarded (a default bus can receive others').
            let mut pattern = rule["Properties"]["EventPattern"].clone();
            let account = pattern
                .as_mapping_mut()
                .and_then(|m| m.remove("account"))
                .unwrap_or_else(|| panic!("{name}: no account filter"));
            assert_eq!(
                account
                    .as_sequence()
                    .map(|a| a.iter().filter_map(target).collect::<Vec<_>>()),
                Some(vec!["AWS::AccountId".to_string()]),
                "{name}"
            );
            assert_eq!(
                pattern, central_pattern,
                "{name}: {function}Function's {event} pattern"
            );
            forwarded.push(name);
        }
    }
    assert_eq!(
        rules.len(),
        forwarded.len(),
        "one member rule per central pattern"
    );
    for (name, rule) in &rules {
        let p = &rule["Properties"];
        // On the member's default bus.
        assert!(p["EventBusName"].is_null(), "{name}");
        let targets = p["Targets"].as_sequence().expect("Targets");
        assert_eq!(targets.len(), 1, "{name}");
        assert_eq!(
            target(&targets[0]["Arn"]).as_deref(),
            Some("EventBusArn"),
            "{name}"
        );
        assert_eq!(
            target(&targets[0]["RoleArn"]).as_deref(),
            Some("EventForwardingRole"),
            "{name}: a bus trusting an organisation needs a role on the target"
        );
    }
    assert_eq!(
        format!("{:?}", m["Conditions"]["ForwardEvents"]),
        format!("{:?}", parse(r#"!Not [!Equals [!Ref EventBusArn, ""]]"#))
    );

    // The role: EventBridge, for this account's rules, may only put events on that bus.
    let role = resource(&m, "EventForwardingRole");
    assert_eq!(role["Condition"].as_str(), Some("ForwardEvents"));
    let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .expect("trust");
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Principal"], parse("{Service: events.amazonaws.com}"));
    assert_eq!(trust[0]["Action"].as_str(), Some("sts:AssumeRole"));
    assert_eq!(
        target(&trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"]).as_deref(),
        Some("AWS::AccountId")
    );
    assert!(role["Properties"]["ManagedPolicyArns"].is_null());
    let statements = role_statements(&m, &role);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"].as_str(), Some("Allow"));
    assert_eq!(actions_of(&statements[0]), ["events:PutEvents"]);
    assert_eq!(target(&statements[0]["Resource"]).as_deref(), Some("EventBusArn"));

    // The parameter takes the central bus's ARN (output MembersEventBusArn), and only a bus.
    let output = &central["Outputs"]["MembersEventBusArn"];
    assert_eq!(output["Condition"].as_str(), Some("Organisation"));
    assert_eq!(
        tagged(&output["Value"], "!GetAtt").and_then(Value::as_str),
        Some("MembersEventBus.Arn")
    );
    let name = eval(
        &central,
        &resource(&central, "MembersEventBus")["Properties"]["Name"],
        &[],
    );
    let bus = format!(
        "arn:aws:events:us-east-1:123456789012:event-bus/{}",
        name.as_str().unwrap()
    );
    let pattern =
        regex::Regex::new(m["Parameters"]["EventBusArn"]["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(pattern.is_match(&bus), "{bus}");
    assert!(pattern.is_match(""), "empty: no forwarding");
    for other in [
        "arn:aws:sns:us-east-1:123456789012:alerts",
        "arn:aws:events:us-east-1:123456789012:rule/lookout-members",
        "*",
    ] {
        assert!(!pattern.is_match(other), "{other}");
    }
}

#[test]
fn the_reader_role_trusts_only_the_central_roles_and_asks_for_the_external_id_or_the_organisation() {
    let m = member();
    let central = render(&[]);
    let role = resource(&m, "ReaderRole");
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"));
    assert_eq!(role["Condition"].as_str(), Some("CreateReader"));
    assert_eq!(
        format!("{:?}", m["Conditions"]["CreateReader"]),
        format!(
            "{:?}",
            parse(r#"!Not [!Equals [!Join ["", !Ref CentralRoleArns], ""]]"#)
        )
    );
    // Named as the central functions expect it (MEMBER_ROLE_NAME).
    assert_eq!(
        target(&role["Properties"]["RoleName"]).as_deref(),
        Some("ReaderRoleName")
    );
    assert_eq!(
        m["Parameters"]["ReaderRoleName"]["Default"].as_str(),
        Some("LookoutReader")
    );
    assert_eq!(
        m["Parameters"]["ReaderRoleName"]["Default"],
        central["Parameters"]["MemberRoleName"]["Default"]
    );
    assert_eq!(
        m["Parameters"]["ReaderRoleName"]["AllowedPattern"],
        central["Parameters"]["MemberRoleName"]["AllowedPattern"]
    );

    let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .expect("trust");
    assert_eq!(trust.len(), 1);
    let s = &trust[0];
    assert_eq!(s["Effect"].as_str(), Some("Allow"));
    assert_eq!(s["Action"].as_str(), Some("sts:AssumeRole"));
    // The principals are the central roles' ARNs, as given, and nothing else: no wildcard, no
    // account root, no service.
    let principal = s["Principal"].as_mapping().expect("Principal: {AWS: ...}");
    assert_eq!(principal.len(), 1);
    assert_eq!(target(&s["Principal"]["AWS"]).as_deref(), Some("CentralRoleArns"));
    let pattern = regex::Regex::new(
        m["Parameters"]["CentralRoleArns"]["AllowedPattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        m["Parameters"]["CentralRoleArns"]["Type"].as_str(),
        Some("CommaDelimitedList")
    );
    for arn in [
        "arn:aws:iam::999999999999:role/lookout-TaskAlertRole-1A2B3C4D5E6F",
        "arn:aws-us-gov:iam::999999999999:role/path/lookout-ScanAlertRole-1A2B",
    ] {
        assert!(pattern.is_match(arn), "{arn}");
    }
    for other in [
        "*",
        "arn:aws:iam::999999999999:root",
        "999999999999",
        "arn:aws:iam::*:role/lookout-TaskAlertRole-1A2B",
        "arn:aws:iam::999999999999:role/*",
        "arn:aws:iam::999999999999:user/admin",
        "arn:aws:sts::999999999999:assumed-role/lookout-TaskAlertRole-1A2B/session",
    ] {
        assert!(!pattern.is_match(other), "{other}");
    }
    // The central stack gives exactly its three reading roles for that parameter.
    let output = &central["Outputs"]["MemberTrustedRoleArns"];
    assert_eq!(output["Condition"].as_str(), Some("Organisation"));
    let joined = tagged(&output["Value"], "!Join")
        .and_then(Value::as_sequence)
        .expect("!Join");
    assert_eq!(joined[0].as_str(), Some(","));
    let roles: Vec<String> = joined[1]
        .as_sequence()
        .expect("roles")
        .iter()
        .filter_map(target)
        .collect();
    assert_eq!(roles, MEMBER_READERS);
    for role in MEMBER_READERS {
        let output = &central["Outputs"][format!("{role}Arn").as_str()];
        assert_eq!(output["Condition"].as_str(), Some("Organisation"), "{role}");
        assert_eq!(target(&output["Value"]).as_deref(), Some(role));
    }

    // The condition: the external id, the organisation, or both; never neither.
    let condition = &s["Condition"];
    let resolved = |external: bool, org: bool| {
        eval(
            &m,
            &choose(
                condition,
                &[("HasExternalId", external), ("HasOrganizationId", org)],
            ),
            &[
                ("ExternalId", "lookout-7f3a9c"),
                ("OrganizationId", "o-a1b2c3d4e5"),
            ],
        )
    };
    assert_eq!(
        resolved(true, false),
        parse("StringEquals: {sts:ExternalId: lookout-7f3a9c}")
    );
    assert_eq!(
        resolved(false, true),
        parse("StringEquals: {aws:PrincipalOrgID: o-a1b2c3d4e5}")
    );
    assert_eq!(
        resolved(true, true),
        parse("StringEquals: {sts:ExternalId: lookout-7f3a9c, aws:PrincipalOrgID: o-a1b2c3d4e5}")
    );
    let rule = &m["Rules"]["ReaderRoleHasACondition"];
    assert_eq!(
        format!("{:?}", rule["RuleCondition"]),
        format!(
            "{:?}",
            parse(r#"!Not [!EachMemberEquals [!Ref CentralRoleArns, ""]]"#)
        )
    );
    assert_eq!(
        format!("{:?}", rule["Assertions"][0]["Assert"]),
        format!(
            "{:?}",
            parse(r#"!Or [!Not [!Equals [!Ref ExternalId, ""]], !Not [!Equals [!Ref OrganizationId, ""]]]"#)
        )
    );
    assert_eq!(m["Parameters"]["ExternalId"]["NoEcho"].as_bool(), Some(true));
    // The same shapes as the central parameters that set the other side.
    assert_eq!(
        m["Parameters"]["ExternalId"]["AllowedPattern"],
        central["Parameters"]["MemberExternalId"]["AllowedPattern"]
    );
    assert_eq!(
        m["Parameters"]["OrganizationId"]["AllowedPattern"],
        central["Parameters"]["OrganizationId"]["AllowedPattern"]
    );
}

#[test]
fn the_reader_role_grants_exactly_the_central_functions_reads() {
    let m = member();
    let central = render(&[]);
    let role = resource(&m, "ReaderRole");
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "no managed policy"
    );
    assert!(role["Properties"]["PermissionsBoundary"].is_null());
    let statements = role_statements(&m, &role);
    let mut granted: Vec<&str> = statements.iter().flat_map(actions_of).collect();
    granted.sort_unstable();
    let mut expected = vec![
        // task-alert
        "ecs:DescribeTaskDefinition",
        // Not logs:FilterLogEvents: task-alert reads a known stream with GetLogEvents only.
        "logs:GetLogEvents",
        // scan-alert
        "ecr:DescribeImageScanFindings",
        // ecr-rescan
        "ecr:DescribeRepositories",
        "ecr:DescribeImages",
        "ecr:StartImageScan",
        "ecr:GetRegistryScanningConfiguration",
        "ecr:BatchGetRepositoryScanningConfiguration",
        "inspector2:ListCoverage",
        "inspector2:ListFindings",
        "inspector2:GetConfiguration",
    ];
    expected.sort_unstable();
    assert_eq!(granted, expected);
    let wildcard_only = [
        "ecs:DescribeTaskDefinition",
        "ecr:GetRegistryScanningConfiguration",
        "inspector2:ListCoverage",
        "inspector2:ListFindings",
        "inspector2:GetConfiguration",
    ];
    for s in &statements {
        assert_eq!(s["Effect"].as_str(), Some("Allow"));
        assert!(s["Condition"].is_null() && s["NotAction"].is_null() && s["NotResource"].is_null());
        let acts = actions_of(s);
        if s["Resource"].as_str() == Some("*") {
            // Actions AWS grants on "*" only, none of them a write.
            for a in &acts {
                assert!(wildcard_only.contains(a), "{a} on Resource \"*\"");
            }
        } else if acts.iter().all(|a| a.starts_with("ecr:")) {
            assert_eq!(
                sub_text(&s["Resource"]),
                "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*",
                "{acts:?}: this account's repositories, any region"
            );
        } else if acts.iter().all(|a| a.starts_with("logs:")) {
            let arns: Vec<String> = s["Resource"]
                .as_sequence()
                .expect("log group ARNs")
                .iter()
                .map(sub_text)
                .collect();
            assert_eq!(
                arns,
                [
                    "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:${TaskAlertLogGroups}",
                    "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:${TaskAlertLogGroups}:*"
                ]
            );
        } else {
            panic!("ReaderRole: {acts:?} on {:?}", s["Resource"]);
        }
    }
    // The task log groups mirror the central parameter, default and shape.
    for key in ["Default", "AllowedPattern"] {
        assert_eq!(
            m["Parameters"]["TaskAlertLogGroups"][key], central["Parameters"]["TaskAlertLogGroups"][key],
            "{key}"
        );
    }
    // Every read is one the central functions make in their own account too.
    let own: Vec<String> = MEMBER_READERS
        .iter()
        .flat_map(|r| role_statements(&central, &resource(&central, r)))
        .flat_map(|s| actions(&s))
        .collect();
    for a in granted {
        assert!(
            own.iter().any(|o| o == a),
            "{a} is not read by a central function"
        );
    }
}

#[test]
fn central_roles_may_assume_only_the_member_reader_role() {
    let t = render(&[("TracingMode", "Active")]);
    for (name, role) in of_type(&t, "AWS::IAM::Role") {
        let grants: Vec<Value> = role_statements(&t, &role)
            .into_iter()
            .filter(|s| actions(s).iter().any(|a| a.starts_with("sts:")))
            .collect();
        if !MEMBER_READERS.contains(&name.as_str()) {
            assert!(grants.is_empty(), "{name}: {grants:?}");
            continue;
        }
        assert_eq!(grants.len(), 1, "{name}");
        let s = &grants[0];
        assert_eq!(s["Effect"].as_str(), Some("Allow"), "{name}");
        assert_eq!(actions(s), ["sts:AssumeRole"], "{name}");
        // The reader role's name in any account, and nothing broader.
        assert_eq!(
            sub_text(&s["Resource"]),
            "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}",
            "{name}"
        );
        // Of the organisation (aws:ResourceOrgID), or of the listed accounts.
        let org = choose(&s["Condition"], &[("SendersByOrganization", true)]);
        assert_eq!(
            eval(&t, &org, &[("OrganizationId", "o-a1b2c3d4e5")]),
            parse("StringEquals: {aws:ResourceOrgID: o-a1b2c3d4e5}"),
            "{name}"
        );
        let listed = choose(&s["Condition"], &[("SendersByOrganization", false)]);
        assert_eq!(
            eval(&t, &listed, &[("MemberAccountIds", "111111111111,222222222222")]),
            parse(r#"StringEquals: {aws:ResourceAccount: ["111111111111", "222222222222"]}"#),
            "{name}"
        );
        // Only in Mode=organisation.
        let conditional: Vec<Vec<Value>> = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("statements")
            .iter()
            .filter_map(|s| tagged(s, "!If").and_then(Value::as_sequence).cloned())
            .filter(|b| actions(&b[1]).contains(&"sts:AssumeRole".to_string()))
            .collect();
        assert_eq!(conditional.len(), 1, "{name}");
        assert_eq!(conditional[0][0].as_str(), Some("Organisation"), "{name}");
        assert_eq!(
            target(&conditional[0][2]).as_deref(),
            Some("AWS::NoValue"),
            "{name}"
        );
    }
    // A role name, never a pattern: the parameter refuses wildcards.
    let parameter = &t["Parameters"]["MemberRoleName"];
    assert_eq!(parameter["Default"].as_str(), Some("LookoutReader"));
    let pattern = regex::Regex::new(parameter["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(pattern.is_match("LookoutReader") && pattern.is_match("org.reader@x_1+=,-"));
    for bad in [
        "",
        "*",
        "Lookout*",
        "Lookout?",
        "path/LookoutReader",
        &"x".repeat(65),
    ] {
        assert!(!pattern.is_match(bad), "{bad}");
    }
}

#[test]
fn member_accounts_are_read_only_in_organisation_mode_and_the_single_account_stack_is_unchanged() {
    let t = render(&[]);
    for name in MEMBER_EVENT_RESOURCES {
        assert_eq!(
            resource(&t, name)["Condition"].as_str(),
            Some("Organisation"),
            "{name}"
        );
    }
    for kind in [
        "AWS::Events::EventBus",
        "AWS::Events::EventBusPolicy",
        "AWS::Events::Rule",
    ] {
        for (name, _) in of_type(&t, kind) {
            assert!(MEMBER_EVENT_RESOURCES.contains(&name.as_str()), "{name}");
        }
    }
    for output in [
        "MembersEventBusArn",
        "TaskAlertRoleArn",
        "ScanAlertRoleArn",
        "EcrRescanRoleArn",
        "MemberTrustedRoleArns",
    ] {
        assert_eq!(
            t["Outputs"][output]["Condition"].as_str(),
            Some("Organisation"),
            "{output}"
        );
    }
    assert_eq!(
        format!("{:?}", t["Conditions"]["SendMemberExternalId"]),
        format!(
            "{:?}",
            parse(r#"!And [!Condition Organisation, !Not [!Equals [!Ref MemberExternalId, ""]]]"#)
        )
    );
    assert_eq!(
        format!("{:?}", t["Conditions"]["RescanMembers"]),
        format!(
            "{:?}",
            parse(
                r#"!And [!Condition Organisation, !Not [!Equals [!Join ["", !Ref RescanAccountIds], ""]]]"#
            )
        )
    );
    assert_eq!(
        t["Parameters"]["MemberExternalId"]["NoEcho"].as_bool(),
        Some(true)
    );
    // Rescanning other accounts needs their reader roles, which only Mode=organisation assumes.
    let rule = &t["Rules"]["RescanAccountsNeedOrganisation"];
    assert_eq!(
        format!("{:?}", rule["RuleCondition"]),
        format!(
            "{:?}",
            parse(r#"!Not [!EachMemberEquals [!Ref RescanAccountIds, ""]]"#)
        )
    );
    assert_eq!(
        format!("{:?}", rule["Assertions"][0]["Assert"]),
        format!("{:?}", parse("!Equals [!Ref Mode, organisation]"))
    );

    let single = [
        ("Organisation", false),
        ("SendersByOrganization", false),
        ("SendMemberExternalId", false),
        ("RescanMembers", false),
    ];
    let variables = |function: &str, conditions: &[(&str, bool)]| -> Mapping {
        let f = resource(&t, &format!("{function}Function"));
        choose(&f["Properties"]["Environment"]["Variables"], conditions)
            .as_mapping()
            .cloned()
            .expect("Variables")
    };
    let keys = |m: &Mapping| -> Vec<String> { m.keys().map(|k| k.as_str().unwrap().to_string()).collect() };
    // Single-account mode: each function's own variables, as before.
    for (function, before) in [
        (
            "EcrRescan",
            vec![
                "FUNCTION_TIMEOUT_SECONDS",
                "IMAGES",
                "REPOSITORY_INCLUDE",
                "REPOSITORY_EXCLUDE",
                "LATEST_PER_REPOSITORY",
                "MIN_SEVERITY",
                "SCAN_RATE_PER_SECOND",
                "DRY_RUN",
            ],
        ),
        (
            "ScanAlert",
            vec![
                "FUNCTION_TIMEOUT_SECONDS",
                "SEVERITY_THRESHOLDS",
                "IGNORE_VULNERABILITIES",
            ],
        ),
        (
            "TaskAlert",
            vec!["FUNCTION_TIMEOUT_SECONDS", "LOG_LINES", "ACCOUNT_ID"],
        ),
    ] {
        assert_eq!(keys(&variables(function, &single)), before, "{function}");
        let role = resource(&t, &format!("{function}Role"));
        let statements = choose(&role["Properties"]["Policies"], &single);
        assert!(
            !format!("{statements:?}").contains("sts:"),
            "{function}: no AssumeRole in single-account mode"
        );
    }

    // Organisation mode: what the functions read (MEMBER_*, ACCOUNTS, ACCOUNT_ID, ACCOUNT_NAMES).
    let organisation = |by_org: bool, external: bool, rescan: bool| {
        vec![
            ("Organisation", true),
            ("SendersByOrganization", by_org),
            ("SendMemberExternalId", external),
            ("RescanMembers", rescan),
        ]
    };
    let params = [
        ("OrganizationId", "o-a1b2c3d4e5"),
        ("MemberAccountIds", "111111111111,222222222222"),
        ("MemberExternalId", "lookout-7f3a9c"),
        ("RescanAccountIds", "111111111111,123456789012"),
    ];
    let value = |function: &str, conditions: &[(&str, bool)], variable: &str| -> Option<String> {
        variables(function, conditions)
            .get(variable)
            .map(|v| eval(&t, v, &params).as_str().expect("a string").to_string())
    };
    for function in EVENT_FUNCTIONS {
        assert_eq!(
            value(function, &organisation(true, false, false), "MEMBER_ACCOUNTS").as_deref(),
            Some("*"),
            "{function}: any account the members bus lets in"
        );
        assert_eq!(
            value(function, &organisation(false, false, false), "MEMBER_ACCOUNTS").as_deref(),
            Some("111111111111,222222222222"),
            "{function}"
        );
        assert_eq!(
            value(function, &organisation(true, false, false), "ACCOUNT_NAMES").as_deref(),
            Some("{}"),
            "{function}: log-alert's AccountNames"
        );
        assert_eq!(
            value(function, &organisation(true, false, false), "ACCOUNT_ID").as_deref(),
            Some("123456789012"),
            "{function}"
        );
    }
    for function in ["TaskAlert", "ScanAlert", "EcrRescan"] {
        assert_eq!(
            value(function, &organisation(true, false, false), "MEMBER_ROLE_NAME").as_deref(),
            Some("LookoutReader"),
            "{function}"
        );
        assert_eq!(
            value(function, &organisation(true, false, false), "MEMBER_EXTERNAL_ID"),
            None,
            "{function}: no external id unless one is set"
        );
        assert_eq!(
            value(function, &organisation(false, true, false), "MEMBER_EXTERNAL_ID").as_deref(),
            Some("lookout-7f3a9c"),
            "{function}"
        );
    }
    assert_eq!(
        value("EcrRescan", &organisation(true, false, false), "ACCOUNTS"),
        None,
        "RescanAccountIds empty: the own registry only"
    );
    assert_eq!(
        value("EcrRescan", &organisation(true, false, true), "ACCOUNTS").as_deref(),
        Some("111111111111,123456789012")
    );
    assert_eq!(
        value("EcrRescan", &organisation(true, false, true), "ACCOUNT_ID").as_deref(),
        Some("123456789012")
    );
}

#[test]
fn the_member_template_adds_events_and_the_reader_only_when_asked() {
    let m = member();
    // An issue-23 StackSet (DestinationArn only) deploys as before: every new parameter has a
    // default that creates nothing.
    for (name, p) in m["Parameters"].as_mapping().expect("Parameters") {
        let name = name.as_str().unwrap();
        assert_eq!(p["Default"].is_null(), name == "DestinationArn", "{name}");
    }
    assert_eq!(m["Parameters"]["EventBusArn"]["Default"].as_str(), Some(""));
    assert_eq!(m["Parameters"]["CentralRoleArns"]["Default"].as_str(), Some(""));
    let mut conditional = Vec::new();
    for (name, r) in resources(&m) {
        match name.as_str() {
            "LogSubscriptionRole" | "LogSubscriptionPolicy" => {
                assert!(r["Condition"].is_null(), "{name}")
            }
            "ReaderRole" => assert_eq!(r["Condition"].as_str(), Some("CreateReader")),
            _ => {
                assert_eq!(r["Condition"].as_str(), Some("ForwardEvents"), "{name}");
                conditional.push(name);
            }
        }
    }
    // Six forwarding rules and their role: nothing else.
    assert_eq!(conditional.len(), 7, "{conditional:?}");
    let kinds: Vec<String> = resources(&m)
        .iter()
        .map(|(_, r)| r["Type"].as_str().unwrap().to_string())
        .collect();
    for kind in &kinds {
        assert!(
            ["AWS::IAM::Role", "AWS::Logs::AccountPolicy", "AWS::Events::Rule"].contains(&kind.as_str()),
            "{kind}"
        );
    }
}
