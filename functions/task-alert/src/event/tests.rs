//! The event checks: what is read, what is refused and how the refusal is named.

use super::check::{entity, parse_iso8601_ms};
use super::*;
use serde_json::{Value, json};

fn parse_batch(payload: &Value) -> Result<Vec<Event>, EventError> {
    parse_value(payload.clone())
}

fn parse_event(payload: &Value) -> Result<Event, EventError> {
    parse_batch(payload).map(|mut events| events.remove(0))
}

fn task_event(detail: Value) -> Value {
    json!({
        "version": "0", "id": "e1", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "111122223333", "time": "2020-01-23T17:57:58Z", "region": "us-west-2",
        "resources": [], "detail": detail,
    })
}

fn detail() -> Value {
    json!({
        "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
        "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/web:3",
        "lastStatus": "STOPPED", "group": "service:web", "stoppedAt": "2020-01-23T17:57:58.103Z",
        "containers": [{"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}],
        "version": 5, "someFutureField": {"nested": [1, 2]},
    })
}

#[test]
fn reads_a_task_stop_and_ignores_unknown_fields() {
    let e = parse_event(&task_event(detail())).unwrap();
    let EventKind::Task(t) = e.kind else { panic!() };
    assert_eq!(t.service(), Some("web"));
    assert_eq!(t.containers[0].exit_code, Some(137));
    assert_eq!(t.version, Some(5));
    assert_eq!(t.stopped_at_ms, Some(1_579_802_278_103));
    assert_eq!(e.meta.time_ms, Some(1_579_802_278_000));
}

#[test]
fn errors_name_the_field_and_never_the_value() {
    let secret = "hunter2-SECRET-VALUE";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"taskArn": secret}), "detail.clusterArn"),
        (
            {
                let mut d = detail();
                d["taskArn"] = json!(secret);
                d
            },
            "detail.taskArn",
        ),
        (
            {
                let mut d = detail();
                d["containers"][0]["name"] = json!(null);
                d
            },
            "detail.containers[0].name",
        ),
        (
            {
                let mut d = detail();
                d["stoppedAt"] = json!(secret);
                d
            },
            "detail.stoppedAt",
        ),
    ];
    for (d, field) in cases {
        let err = parse_event(&task_event(d)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(field), "{text}");
        assert!(!text.contains(secret), "{text}");
    }
    let mut e = task_event(detail());
    e["detail-type"] = json!(format!("Evil {secret}"));
    let text = parse_event(&e).unwrap_err().to_string();
    assert!(text.contains("detail-type") && !text.contains(secret), "{text}");
    let mut forged = task_event(detail());
    forged["source"] = json!("custom.app");
    assert_eq!(
        parse_event(&forged).unwrap_err(),
        EventError::Field {
            field: "source".into(),
            problem: "is not the AWS service that sends this detail-type"
        }
    );
    assert_eq!(parse_batch(&json!("x")).unwrap_err(), EventError::NotAnEvent);
}

/// A field of the wrong JSON type fails as serde found it, in words that never quote it: the
/// typed envelope (`aws_lambda_events`) reads the shape, the checks only what it means.
#[test]
fn fields_of_the_wrong_type_fail_without_quoting_the_payload() {
    let secret = "hunter2-SECRET-VALUE";
    let wrong =
        "the event is not an EventBridge event task-alert can read: a field has the wrong type or value";
    let mut cases: Vec<Value> = Vec::new();
    for (field, value) in [
        ("exitCode", json!(secret)),
        ("version", json!(-1)),
        ("containers", json!(secret)),
        ("stoppedReason", json!({"x": secret})),
    ] {
        let mut d = detail();
        match field {
            "exitCode" => d["containers"][0]["exitCode"] = value,
            _ => d[field] = value,
        }
        cases.push(task_event(d));
    }
    let mut time = task_event(detail());
    time["time"] = json!(secret);
    cases.push(time);
    cases.push(json!([task_event(detail()), {"detail-type": 5, "x": secret}]));
    for payload in cases {
        let err = parse_batch(&payload).unwrap_err();
        assert!(matches!(err, EventError::Malformed(_)), "{err:?}");
        assert_eq!(err.to_string(), wrong);
    }
    let mut no_source = task_event(detail());
    no_source.as_object_mut().unwrap().remove("source");
    assert_eq!(
        parse_batch(&no_source).unwrap_err().to_string(),
        "the event is not an EventBridge event task-alert can read: missing field `source`"
    );
    assert_eq!(
        parse_batch(&json!([task_event(detail()), {"detail-type": "Evil", "source": "aws.ecs"}]))
            .unwrap_err(),
        EventError::Unsupported {
            field: "[1].detail-type".into()
        }
    );
    let too_many = Value::Array(vec![json!(secret); MAX_BATCH + 1]);
    assert_eq!(
        parse_batch(&too_many).unwrap_err(),
        EventError::TooMany(MAX_BATCH + 1)
    );
}

/// A direct invoke that says one account and names another's task (to read its logs)
/// fails, naming the field and never quoting the payload.
#[test]
fn arns_of_another_account_region_or_partition_than_the_event_fail() {
    let other = "999988887777";
    let mismatch = |field: &str, problem: &'static str| EventError::Mismatch {
        field: field.into(),
        problem,
    };
    let account = "is of another account than the event's account";
    let region = "is of another region than the event's region";
    let cases: Vec<(Value, EventError)> = vec![
        (
            {
                let mut e = task_event(detail());
                e["account"] = json!(other);
                e
            },
            mismatch("detail.clusterArn", account),
        ),
        (
            {
                let mut d = detail();
                d["taskArn"] = json!(format!(
                    "arn:aws:ecs:us-west-2:{other}:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad"
                ));
                task_event(d)
            },
            mismatch("detail.taskArn", account),
        ),
        (
            {
                let mut d = detail();
                d["taskDefinitionArn"] =
                    json!(format!("arn:aws:ecs:us-west-2:{other}:task-definition/web:3"));
                task_event(d)
            },
            mismatch("detail.taskDefinitionArn", account),
        ),
        (
            {
                let mut d = detail();
                d["taskDefinitionArn"] = json!("arn:aws:ecs:eu-west-1:111122223333:task-definition/web:3");
                task_event(d)
            },
            mismatch("detail.taskDefinitionArn", region),
        ),
        (
            {
                let mut d = detail();
                d["clusterArn"] = json!("arn:aws-cn:ecs:cn-north-1:111122223333:cluster/prod");
                task_event(d)
            },
            mismatch("detail.clusterArn", region),
        ),
        (
            {
                let mut e = task_event(detail());
                e["region"] = json!("us-east-1");
                e
            },
            mismatch("detail.clusterArn", region),
        ),
        (
            {
                let mut e = task_event(detail());
                e.as_object_mut().unwrap().remove("account");
                e
            },
            EventError::Field {
                field: "account".into(),
                problem: "is missing, and the event names ARNs",
            },
        ),
        (
            json!([task_event(detail()), {
                "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                "account": "111122223333", "region": "us-west-2",
                "resources": [format!("arn:aws:ecs:us-west-2:{other}:service/prod/web")],
                "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED"},
            }]),
            mismatch("[1].resources[0]", account),
        ),
        (
            json!({
                "detail-type": "AWS Health Event", "source": "aws.health",
                "account": "111122223333", "region": "us-west-2", "resources": [],
                "detail": {"service": "ECS", "eventTypeCode": "AWS_ECS_TASK_PATCHING_RETIREMENT",
                    "affectedEntities": [{"entityValue": format!(
                        "arn:aws:ecs:us-west-2:{other}:task/prod/00805ce1d81940b5a37398e5a2c23333"
                    )}]},
            }),
            mismatch("detail.affectedEntities", account),
        ),
    ];
    for (payload, expected) in cases {
        let err = parse_batch(&payload).unwrap_err();
        assert_eq!(err, expected);
        let text = err.to_string();
        assert!(!text.contains(other) && !text.contains("arn:"), "{text}");
    }
    // Agreeing in every part, in another partition: accepted.
    let mut gov = task_event(json!({
        "clusterArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:cluster/prod",
        "taskArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "taskDefinitionArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task-definition/web:3",
        "lastStatus": "STOPPED",
    }));
    gov["region"] = json!("us-gov-west-1");
    assert!(parse_event(&gov).is_ok());
}

#[test]
fn only_events_of_the_functions_own_account_and_region_are_kept() {
    let mut other_account = task_event(json!({
        "clusterArn": "arn:aws:ecs:us-west-2:999988887777:cluster/prod",
        "taskArn": "arn:aws:ecs:us-west-2:999988887777:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:999988887777:task-definition/web:3",
        "lastStatus": "STOPPED",
    }));
    other_account["account"] = json!("999988887777");
    let mut other_region = task_event(json!({
        "clusterArn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
        "taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:3",
        "lastStatus": "STOPPED",
    }));
    other_region["region"] = json!("eu-west-1");
    let own = task_event(detail());
    let events = parse_batch(&json!([other_account, own, other_region])).unwrap();
    let us_west_2 = Region::parse("us-west-2").unwrap();
    let account = |a: &str| AccountId::parse(a).unwrap();
    let (kept, ignored) = accepted_events(events.clone(), &account("111122223333"), &us_west_2, None);
    assert_eq!(
        ignored,
        BTreeMap::from([("event of another account or region", 2)])
    );
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].meta.account, Some(account("111122223333")));
    assert_eq!(kept[0].meta.region, us_west_2);
    let (kept, ignored) = accepted_events(events, &account("123456789012"), &us_west_2, None);
    assert_eq!(
        (kept.len(), ignored),
        (0, BTreeMap::from([("event of another account or region", 3)]))
    );
}

/// Organisation mode: the listed members' events (or any account's, with `*`) are read as
/// well as the own, in any region of the function's partition.
#[test]
fn organisation_mode_keeps_members_events_in_any_region_of_the_partition() {
    let event_of = |account: &str, region: &str| {
        let partition = Region::parse(region).unwrap().partition();
        let arn = |r: &str| format!("arn:{partition}:ecs:{region}:{account}:{r}");
        let mut e = task_event(json!({
            "clusterArn": arn("cluster/prod"),
            "taskArn": arn("task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad"),
            "taskDefinitionArn": arn("task-definition/web:3"),
            "lastStatus": "STOPPED",
        }));
        e["account"] = json!(account);
        e["region"] = json!(region);
        e
    };
    let events = parse_batch(&json!([
        event_of("111122223333", "us-west-2"),
        event_of("111111111111", "eu-west-1"),
        event_of("222222222222", "us-west-2"),
        event_of("111111111111", "cn-north-1"),
        event_of("111122223333", "eu-west-1"),
    ]))
    .unwrap();
    let own = AccountId::parse("111122223333").unwrap();
    let us_west_2 = Region::parse("us-west-2").unwrap();
    let listed = MemberAccounts::Listed([AccountId::parse("111111111111").unwrap()].into());
    let (kept, ignored) = accepted_events(events.clone(), &own, &us_west_2, Some(&listed));
    let kept: Vec<(&str, &str)> = kept
        .iter()
        .map(|e| (e.meta.account.as_ref().unwrap().as_str(), e.meta.region.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("111122223333", "us-west-2"),
            ("111111111111", "eu-west-1"),
            ("111122223333", "eu-west-1")
        ]
    );
    assert_eq!(
        ignored,
        BTreeMap::from([
            ("event of an account not in MEMBER_ACCOUNTS", 1),
            ("event of another partition", 1)
        ])
    );
    let (kept, ignored) = accepted_events(events, &own, &us_west_2, Some(&MemberAccounts::Any));
    assert_eq!(kept.len(), 4);
    assert_eq!(ignored, BTreeMap::from([("event of another partition", 1)]));
}

#[test]
fn iso8601() {
    assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_iso8601_ms("2000-02-29T00:00:00.5Z"), Some(951_782_400_500));
    assert_eq!(
        parse_iso8601_ms("2020-05-23T11:11:11+01:00"),
        Some(1_590_228_671_000)
    );
    for bad in [
        "",
        "2020-13-01T00:00:00Z",
        "2020-01-01T00:00:00",
        "2020-01-01T00:00:00.Z",
        "x020-01-01T00:00:00Z",
        "2020-01-01T00:00:00+1:00",
    ] {
        assert_eq!(parse_iso8601_ms(bad), None, "{bad}");
    }
}

#[test]
fn health_entities() {
    assert!(matches!(
        entity("arn:aws:ecs:eu-west-1:111222333444:task/examplecluster/00805ce1d81940b5a37398e5a2c23333"),
        AffectedEntity::Task(_)
    ));
    assert_eq!(
        entity("prod/web"),
        AffectedEntity::Service {
            cluster: "prod".into(),
            service: "web".into()
        }
    );
    assert!(matches!(entity("x/y/z"), AffectedEntity::Other { .. }));
}
