//! ecr-rescan over an organisation (`ACCOUNTS`): each member's registry through its own mocked
//! clients (aws-smithy-mocks, as the member reader role would give them) or fake registries;
//! members that cannot be reached, per-account pacing, the deadline's rotation, Inspector
//! through the role, and the summary's bounds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use aws_sdk_ecr::operation::start_image_scan::StartImageScanOutput;
use aws_sdk_ecr::types::ScanType;
use aws_sdk_inspector2::operation::list_findings::ListFindingsOutput;
use aws_sdk_inspector2::types::Severity;
use aws_smithy_mocks::{Rule, mock};
use ecr_rescan::{EcrRegistry, Inspector2, Members, Registry, Rescan, RescanConfig};
use lookout_shared::aws::ApiError;
use lookout_shared::deadline::Deadline;
use lookout_shared::ids::AccountId;
use lookout_shared::member::{MemberError, MemberErrorKind};
use lookout_shared::notification::SNS_MAX_REQUEST_BYTES;
use lookout_shared::publish::{MemoryPublisher, Publisher};
use lookout_shared::state::{DynamoStore, MemoryStore, SystemClock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{OWN, assert_quoted, ecr, error_of, finding, forged_registry, images, inspector};
use common::{empty_configuration, empty_coverage, json_error, no_findings, no_repository_frequencies};
use common::{repositories, scan_ok, scan_type, sqs_document, summary_of};

const PUBLISH: (&str, &str) = ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts");

/// The settings of these tests, with `ACCOUNTS`; `PUBLISH` in `pairs` adds the topic.
fn config(accounts: &str, pairs: &[(&str, &str)]) -> RescanConfig {
    let mut all = vec![("ACCOUNTS", accounts), ("ACCOUNT_ID", OWN)];
    all.extend_from_slice(pairs);
    common::config(&all)
}

/// A BASIC registry of one repository and its images, whose scans `scans` answers.
fn basic_registry(
    repository: &'static str,
    digests: &'static [&'static str],
    scans: &Rule,
) -> aws_sdk_ecr::Client {
    ecr(&[
        &scan_type(ScanType::Basic),
        &repositories(&[repository]),
        &images(repository, digests),
        scans,
    ])
}

/// A rescan of `config`'s accounts, the members reached through `members`; the function's own
/// registry and Inspector answer nothing.
fn organisation_rescan<P: Publisher, M: Members>(
    config: RescanConfig,
    publisher: P,
    members: M,
) -> Rescan<EcrRegistry, Inspector2, P, DynamoStore, M> {
    Rescan::new(
        config,
        EcrRegistry::new(ecr(&[])),
        Inspector2::new(inspector(&[])),
        publisher,
    )
    .with_members(Some(members))
}

/// Member accounts with mocked clients, or the way they fail; records the order they were
/// reached in.
#[derive(Default)]
struct MockedMembers {
    reachable: BTreeMap<&'static str, (aws_sdk_ecr::Client, aws_sdk_inspector2::Client)>,
    reached: Mutex<Vec<String>>,
}

impl Members for MockedMembers {
    type Registry = EcrRegistry;
    type Inspector = Inspector2;

    async fn reach(
        &self,
        account: &AccountId,
        _timeout: Duration,
    ) -> Result<(EcrRegistry, Inspector2), MemberError> {
        self.reached.lock().unwrap().push(account.to_string());
        match self.reachable.get(account.as_str()) {
            Some((ecr, inspector)) => Ok((EcrRegistry::new(ecr.clone()), Inspector2::new(inspector.clone()))),
            None => Err(MemberError {
                role: "LookoutReader".into(),
                account: account.to_string(),
                kind: MemberErrorKind::Denied,
                detail: "AccessDenied: User is not authorized to perform: sts:AssumeRole".into(),
            }),
        }
    }
}

fn account<'v>(summary: &'v Value, id: &str) -> &'v Value {
    summary["perAccount"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == id)
        .unwrap_or_else(|| panic!("{id} is not in {summary}"))
}

fn scheduled(time: &str) -> Value {
    json!({
        "version": "0", "id": format!("run-{time}"), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": OWN, "time": time, "region": "us-east-1",
        "resources": [], "detail": {}
    })
}

// ---- Three accounts, one unreachable ----

#[tokio::test]
async fn three_accounts_one_unreachable_scan_the_two_and_name_the_third_after_the_summary() {
    let own_scans = scan_ok();
    let own = basic_registry("web", &["sha256:o1", "sha256:o2"], &own_scans);
    let member_scans = scan_ok();
    let member = basic_registry("api", &["sha256:a1", "sha256:a2", "sha256:a3"], &member_scans);
    let mut members = MockedMembers::default();
    members.reachable.insert("111111111111", (member, inspector(&[])));
    let publisher = MemoryPublisher::default();
    let rescan = Rescan::new(
        config(&format!("333333333333,111111111111,{OWN}"), &[PUBLISH]),
        EcrRegistry::new(own),
        Inspector2::new(inspector(&[])),
        &publisher,
    )
    .with_members(Some(members));
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;

    // Before: ACCOUNTS was not read; only the function's own registry was rescanned.
    assert_eq!(error_type, "Lookout.MemberUnreachable");
    assert_eq!(
        message,
        "cannot assume LookoutReader in 333333333333: access denied (role missing or not trusting this function); the summary names each account and why"
    );
    assert!(
        !message.contains("sts:AssumeRole"),
        "the service's words stay in the log"
    );
    assert_eq!(own_scans.num_calls(), 2, "once per image in the own registry");
    assert_eq!(member_scans.num_calls(), 3, "once per image in the member's");

    let sent = publisher.messages();
    assert_eq!(sent.len(), 1, "the summary went out before the error");
    assert_eq!(
        sent[0].subject,
        "[Lookout] ECR rescan, 3 accounts (1 failed): 5 started, 0 already scanned, 0 failed (partial)"
    );
    let summary = sqs_document(&sent[0]);
    assert_eq!(summary["accounts"], json!({"unreachable": 1, "reached": 2}));
    assert_eq!(summary["outcomes"], json!({"started": 5}));
    assert_eq!(summary["complete"], false);
    let unreachable = account(&summary, "333333333333");
    assert_eq!(unreachable["status"], "unreachable");
    assert!(
        unreachable["problem"]
            .as_str()
            .unwrap()
            .starts_with("cannot assume LookoutReader in 333333333333: access denied"),
        "{unreachable}"
    );
    assert_eq!(
        summary["perAccount"][0]["account"], "333333333333",
        "failures first"
    );
    for (id, started) in [("111111111111", 3), (OWN, 2)] {
        let registry = &account(&summary, id)["registry"];
        assert_eq!(registry["outcomes"], json!({"started": started}), "{id}");
    }
    let text: Value = serde_json::from_str(&sent[0].message).unwrap();
    let text = text["default"].as_str().unwrap();
    assert!(
        text.contains("  333333333333: unreachable: cannot assume LookoutReader in 333333333333"),
        "{text}"
    );
    assert!(
        text.contains("  111111111111: BASIC, 3 images in 1 repository; started 3"),
        "{text}"
    );
}

// ---- Each account is paced on its own ----

#[tokio::test(start_paused = true)]
async fn a_throttled_account_slows_itself_and_no_other() {
    let throttled = mock!(aws_sdk_ecr::Client::start_image_scan)
        .sequence()
        .http_status(400, Some(json_error("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(|| StartImageScanOutput::builder().build())
        .repeatedly()
        .build();
    let slow = basic_registry("web", &["sha256:s1", "sha256:s2", "sha256:s3"], &throttled);
    let calm_scans = scan_ok();
    let calm = basic_registry("web", &["sha256:c1", "sha256:c2", "sha256:c3"], &calm_scans);
    let mut members = MockedMembers::default();
    members.reachable.insert("111111111111", (slow, inspector(&[])));
    members.reachable.insert("222222222222", (calm, inspector(&[])));
    let rescan = organisation_rescan(
        config("111111111111,222222222222", &[]),
        None::<MemoryPublisher>,
        members,
    );
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(600)),
        "req",
    )
    .await;
    assert_eq!(summary["outcomes"], json!({"started": 6}));
    assert_eq!(throttled.num_calls(), 5, "two throttled, then three started");
    let notes = |id: &str| account(&summary, id)["registry"]["notes"].to_string();
    assert!(
        notes("111111111111").contains("ECR throttled the calls; the rate settled at"),
        "{summary}"
    );
    // One rate for all would have carried the throttle over to the calm account.
    assert!(!notes("222222222222").contains("throttled"), "{summary}");
    assert_eq!(calm_scans.num_calls(), 3);
}

// ---- The deadline covers the whole run; the next run starts with what it did not reach ----

/// A registry of `repositories` with one tagged image each; its scans hang while `hang` is set.
struct FakeRegistry {
    repositories: usize,
    hang: Arc<AtomicBool>,
    scans: Arc<AtomicUsize>,
}

impl Registry for FakeRegistry {
    async fn scan_type(&self) -> Result<ecr_rescan::ScanType, ApiError> {
        Ok(ecr_rescan::ScanType::Basic)
    }
    async fn repositories(&self) -> Result<Vec<ecr_rescan::Repository>, ApiError> {
        Ok((0..self.repositories)
            .map(|i| ecr_rescan::Repository {
                name: format!("repo-{i:03}"),
            })
            .collect())
    }
    async fn images(&self, repository: &str) -> Result<Vec<ecr_rescan::Image>, ApiError> {
        Ok(vec![ecr_rescan::Image {
            repository: repository.into(),
            digest: format!("sha256:{repository}"),
            tags: vec!["v1".into()],
            ..Default::default()
        }])
    }
    async fn start_scan(&self, _repository: &str, _digest: &str) -> Result<(), ecr_rescan::ScanError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.scans.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn scan_frequencies(&self, _r: &[String]) -> Result<BTreeMap<String, String>, ApiError> {
        Ok(BTreeMap::new())
    }
}

/// Members whose registries are [`FakeRegistry`]s; those in `hanging` hang while `hang` is set.
struct FakeMembers {
    repositories: usize,
    hanging: Vec<&'static str>,
    hang: Arc<AtomicBool>,
    scans: Arc<AtomicUsize>,
    reached: Arc<Mutex<Vec<String>>>,
}

impl FakeMembers {
    fn new(repositories: usize, hanging: &[&'static str]) -> Self {
        Self {
            repositories,
            hanging: hanging.to_vec(),
            hang: Arc::new(AtomicBool::new(true)),
            scans: Arc::default(),
            reached: Arc::default(),
        }
    }
}

impl Members for FakeMembers {
    type Registry = FakeRegistry;
    type Inspector = Inspector2;

    async fn reach(
        &self,
        account: &AccountId,
        _timeout: Duration,
    ) -> Result<(FakeRegistry, Inspector2), MemberError> {
        self.reached.lock().unwrap().push(account.to_string());
        let hangs = self.hanging.contains(&account.as_str());
        Ok((
            FakeRegistry {
                repositories: self.repositories,
                hang: if hangs {
                    self.hang.clone()
                } else {
                    Arc::new(AtomicBool::new(false))
                },
                scans: self.scans.clone(),
            },
            Inspector2::new(inspector(&[])),
        ))
    }
}

const SIX: &str = "111111111111,222222222222,333333333333,444444444444,555555555555,666666666666";

#[tokio::test(start_paused = true)]
async fn accounts_the_deadline_left_go_first_next_time_with_the_state_table() {
    let members = FakeMembers::new(
        2,
        &["111111111111", "222222222222", "333333333333", "444444444444"],
    );
    let (hang, reached) = (members.hang.clone(), members.reached.clone());
    let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
    let rescan = organisation_rescan(
        config(SIX, &[("DEADLINE_MARGIN_MS", "10000")]),
        None::<MemoryPublisher>,
        members,
    )
    .with_state(Some(store), Duration::from_secs(900));

    // The first four hang until the stop, so the last two never get their turn.
    let began = tokio::time::Instant::now();
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(60)),
        "req",
    )
    .await;
    assert_eq!(
        began.elapsed(),
        Duration::from_secs(50),
        "the stop covers every account"
    );
    assert_eq!(summary["accounts"], json!({"notReached": 2, "reached": 4}));
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["outcomes"], json!({"deferredDeadline": 8}));
    for id in ["555555555555", "666666666666"] {
        let a = account(&summary, id);
        assert_eq!(a["status"], "notReached");
        assert_eq!(a["problem"], "not reached (deadline)");
    }
    assert!(
        summary["notes"][0]
            .as_str()
            .unwrap()
            .contains("with 2 accounts not reached; the next run starts with them"),
        "{}",
        summary["notes"]
    );
    assert_eq!(reached.lock().unwrap().len(), 4);

    // The next run: those not reached first, then those cut short, in the order they had.
    hang.store(false, Ordering::SeqCst);
    reached.lock().unwrap().clear();
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(60)),
        "req",
    )
    .await;
    assert_eq!(
        *reached.lock().unwrap(),
        [
            "555555555555",
            "666666666666",
            "111111111111",
            "222222222222",
            "333333333333",
            "444444444444"
        ]
    );
    assert_eq!(summary["accounts"], json!({"reached": 6}));
    assert_eq!(summary["complete"], true);
}

#[tokio::test]
async fn without_a_table_the_accounts_rotate_by_the_scheduled_hour() {
    let members = FakeMembers::new(1, &[]);
    let reached = members.reached.clone();
    let rescan = organisation_rescan(config(SIX, &[]), None::<MemoryPublisher>, members);
    let order = |time: String| {
        let rescan = &rescan;
        let reached = reached.clone();
        async move {
            reached.lock().unwrap().clear();
            summary_of(
                rescan,
                scheduled(&time),
                Deadline::after(Duration::from_secs(60)),
                "req",
            )
            .await;
            reached.lock().unwrap().clone()
        }
    };
    let accounts: Vec<String> = SIX.split(',').map(String::from).collect();
    let first = order("2025-11-25T03:00:00Z".into()).await;
    // A rotation of ACCOUNTS, and Lambda's retry two minutes later keeps it.
    let at = accounts.iter().position(|a| *a == first[0]).unwrap();
    let mut rotated = accounts.clone();
    rotated.rotate_left(at);
    assert_eq!(first, rotated);
    assert_eq!(order("2025-11-25T03:02:00Z".into()).await, first);
    // Some later scheduled hour leads with another account.
    let mut leaders = std::collections::BTreeSet::new();
    for hour in 4..16 {
        leaders.insert(order(format!("2025-11-25T{hour:02}:00:00Z")).await[0].clone());
    }
    assert!(leaders.len() > 1, "{leaders:?}");
}

// ---- ENHANCED registries: Inspector read through each member's role ----

#[tokio::test]
async fn enhanced_members_report_inspector_through_their_role_and_a_denied_part_is_an_error() {
    let enhanced_ecr = |scans: &Rule| {
        ecr(&[
            &scan_type(ScanType::Enhanced),
            &repositories(&["svc"]),
            &no_repository_frequencies(),
            scans,
        ])
    };
    let (scans_a, scans_b) = (scan_ok(), scan_ok());
    let findings_a = mock!(aws_sdk_inspector2::Client::list_findings).then_output(|| {
        ListFindingsOutput::builder()
            .findings(finding(
                "111111111111",
                "svc",
                "sha256:a",
                "CVE-2024-0001",
                Severity::Critical,
            ))
            .build()
    });
    let coverage_b = mock!(aws_sdk_inspector2::Client::list_coverage)
        .sequence()
        .http_status(400, Some(json_error("AccessDeniedException", "not allowed")))
        .repeatedly()
        .build();
    let mut members = MockedMembers::default();
    members.reachable.insert(
        "111111111111",
        (
            enhanced_ecr(&scans_a),
            inspector(&[&findings_a, &empty_coverage(), &empty_configuration()]),
        ),
    );
    members.reachable.insert(
        "222222222222",
        (
            enhanced_ecr(&scans_b),
            inspector(&[&no_findings(), &coverage_b, &empty_configuration()]),
        ),
    );
    let publisher = MemoryPublisher::default();
    let rescan = organisation_rescan(
        config("111111111111,222222222222", &[PUBLISH]),
        &publisher,
        members,
    );
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    assert_eq!(error_type, "Lookout.InspectorUnreadable");
    assert!(message.contains("(coverage)"), "{message}");
    assert_eq!(
        (scans_a.num_calls(), scans_b.num_calls()),
        (0, 0),
        "no StartImageScan under ENHANCED"
    );
    assert_eq!(findings_a.num_calls(), 1, "A's findings read through A's clients");
    let summary = sqs_document(&publisher.messages()[0]);
    assert_eq!(summary["scanTypes"], json!({"ENHANCED": 2}));
    let a = &account(&summary, "111111111111")["registry"]["enhanced"];
    assert_eq!(a["findings"]["total"], 1);
    assert_eq!(a["findings"]["images"][0]["digest"], "sha256:a");
    let b = &account(&summary, "222222222222")["registry"]["enhanced"];
    assert!(
        b["coverage"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{b}"
    );
    assert_eq!(b["findings"]["total"], 0, "B's other parts still arrive");
}

// ---- Bounded, whatever the organisation's size ----

#[tokio::test]
async fn the_summary_is_bounded_per_account_and_its_counts_stay_complete() {
    let accounts: Vec<String> = (1..=60)
        .map(|i| format!("{:012}", 100_000_000_000u64 + i))
        .collect();
    let members = FakeMembers::new(30, &[]);
    let scans = members.scans.clone();
    let publisher = MemoryPublisher::default();
    let rescan = organisation_rescan(
        config(
            &accounts.join(","),
            &[
                PUBLISH,
                ("SCAN_RATE_PER_SECOND", "1000"),
                ("SCAN_CONCURRENCY", "16"),
            ],
        ),
        &publisher,
        members,
    );
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(600)),
        "req",
    )
    .await;
    assert_eq!(scans.load(Ordering::SeqCst), 60 * 30);
    assert_eq!(summary["outcomes"], json!({"started": 1_800}));
    assert_eq!(
        (summary["repositories"].clone(), summary["images"].clone()),
        (json!(1_800), json!(1_800))
    );
    let per_account = summary["perAccount"].as_array().unwrap();
    assert_eq!(per_account.len(), 60, "every account is named");
    for (i, a) in per_account.iter().enumerate() {
        let registry = &a["registry"];
        assert_eq!(
            registry["outcomes"],
            json!({"started": 30}),
            "counts stay complete"
        );
        let (listed, omitted) = if i < 50 { (20, 10) } else { (0, 30) };
        assert_eq!(registry["perRepository"].as_array().unwrap().len(), listed, "{i}");
        assert_eq!(registry["omitted"], json!({"perRepository": omitted}), "{i}");
    }
    assert!(
        summary.to_string().len() < 1 << 20,
        "{} bytes",
        summary.to_string().len()
    );
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].request_bytes() <= SNS_MAX_REQUEST_BYTES);
    let structured = sqs_document(&sent[0]);
    assert!(structured["perAccount"].as_array().unwrap().len() <= 50);
    assert_eq!(structured["outcomes"], json!({"started": 1_800}));
}

// ---- Untrusted text from a member's registry is quoted ----

#[tokio::test]
async fn a_members_names_and_errors_cannot_forge_summary_lines() {
    let member = ecr(&forged_registry().each_ref());
    let mut members = MockedMembers::default();
    members.reachable.insert("111111111111", (member, inspector(&[])));
    let publisher = MemoryPublisher::default();
    let rescan = organisation_rescan(
        config(
            "111111111111,222222222222",
            &[PUBLISH, ("MESSAGE_FORMAT", "text")],
        ),
        &publisher,
        members,
    );
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(60))).await;
    assert_eq!(error_type, "Lookout.MemberUnreachable");
    assert!(!message.contains("evil"), "{message}");
    let sent = publisher.messages();
    let attribute = |name: &str| {
        sent[0]
            .attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value_string())
    };
    assert_eq!(attribute("scanType").as_deref(), Some("BASIC"));
    assert_eq!(attribute("accounts").as_deref(), Some("2"));
    assert_eq!(attribute("accountsFailed").as_deref(), Some("1"));
    let body = &sent[0].message;
    assert!(body.contains("Per account:"), "{body}");
    assert!(body.contains("Failures:\n  111111111111 web"), "{body}");
    assert_quoted(body);
}

#[tokio::test]
async fn a_dry_run_over_the_organisation_starts_nothing_and_says_what_it_would() {
    let scans = scan_ok();
    let member = basic_registry("web", &["sha256:a1", "sha256:a2"], &scans);
    let mut members = MockedMembers::default();
    members.reachable.insert("111111111111", (member, inspector(&[])));
    let publisher = MemoryPublisher::default();
    let rescan = organisation_rescan(
        config("111111111111", &[PUBLISH, ("DRY_RUN", "true")]),
        &publisher,
        members,
    );
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(60)),
        "req",
    )
    .await;
    assert_eq!(scans.num_calls(), 0);
    assert_eq!(summary["dryRun"], true);
    assert_eq!(summary["outcomes"], json!({"wouldScan": 2}));
    let would = account(&summary, "111111111111")["registry"]["wouldScan"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(would, 2);
    assert_eq!(
        publisher.messages()[0].subject,
        "[Lookout] ECR rescan dry run, 1 account: 2 images would be scanned"
    );
}
