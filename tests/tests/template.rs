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
        // The function's own role may send there, and only there.
        let (role_name, role) = role_of(&t, &f);
        let sends: Vec<String> = role_statements(&t, &role)
            .iter()
            .filter(|s| actions(s).iter().any(|a| a == "sqs:SendMessage"))
            .filter_map(|s| target(&s["Resource"]))
            .collect();
        assert_eq!(sends, [queue_name], "{role_name}");
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
    // Errors per function (4), queue depth (7), state store problems per function (4).
    assert_eq!(alarms.len(), 15);
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
        let permissions = of_type(&t, "AWS::Lambda::Permission");
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
        r#"!Or [!Not [!EachMemberEquals [!Ref LogGroupNames, ""]], !Equals [!Ref AccountPolicy, "true"]]"#,
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
        if name != "LogAlertAccountPermission" {
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
    assert_eq!(
        pattern("ECS Deployment State Change")["detail"]["eventName"][0].as_str(),
        Some("SERVICE_DEPLOYMENT_FAILED")
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
            "SERVICE_TASK_START_IMPAIRED"
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
