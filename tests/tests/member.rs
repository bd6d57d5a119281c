//! `lookout_shared::member::MemberAccess` against moto's STS and ECR, through the fault proxy
//! (which counts AssumeRole calls, and fails or delays them for chosen accounts): the own
//! account needs no role, a member's credentials act in that account only, a slow STS is cut
//! at the caller's timeout, and credentials are assumed once and then cached.

use aws_config::{BehaviorVersion, SdkConfig};
use lookout_shared::config::Env;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::{MemberAccess, MemberConfig, MemberErrorKind};
use lookout_tests::ecr::create_repository;
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{ACCOUNT, Moto, REGION, acting_in};
use std::time::{Duration, Instant};

const MEMBER: &str = "111111111111";
const OTHER: &str = "222222222222";
const TIMEOUT: Duration = Duration::from_secs(5);

struct Setup {
    _moto: Moto,
    proxy: FaultProxy,
    /// Straight to moto: the test's own setup, not counted by the proxy.
    direct: SdkConfig,
    /// The function's view: through the proxy.
    access: MemberAccess,
}

/// A base SDK configuration (moto's test credentials, the own account) for `endpoint`.
async fn config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .http_client(lookout_shared::aws::https_client())
        .load()
        .await
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let direct = config_for(&moto.endpoint).await;
    let through_proxy = config_for(&proxy.endpoint).await;
    let config = MemberConfig::from_env(&Env::default()).expect("defaults");
    let access = MemberAccess::new(&through_proxy, id(ACCOUNT), config, "member-test");
    Setup {
        _moto: moto,
        proxy,
        direct,
        access,
    }
}

fn id(account: &str) -> AccountId {
    AccountId::parse(account).expect("an account id")
}

fn region() -> Region {
    Region::parse(REGION).expect("a region")
}

/// The repositories `config` sees, as `name@registry`.
async fn repositories(config: &SdkConfig) -> Vec<String> {
    let mut names: Vec<String> = aws_sdk_ecr::Client::new(config)
        .describe_repositories()
        .send()
        .await
        .expect("DescribeRepositories")
        .repositories
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            format!(
                "{}@{}",
                r.repository_name.unwrap_or_default(),
                r.registry_id.unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_own_account_uses_the_base_configuration_without_a_role() {
    let s = setup().await;
    create_repository(&aws_sdk_ecr::Client::new(&s.direct), "own-only").await;
    let config = s
        .access
        .sdk_config(&id(ACCOUNT), &region(), TIMEOUT)
        .await
        .expect("own account");
    assert_eq!(repositories(&config).await, ["own-only@123456789012"]);
    assert_eq!(s.proxy.seen("AssumeRole"), 0, "no role for the own account");
    assert!(s.access.is_own(&id(ACCOUNT)) && !s.access.is_own(&id(MEMBER)));
}

#[tokio::test]
async fn a_member_configuration_reads_only_that_accounts_resources() {
    let s = setup().await;
    create_repository(&aws_sdk_ecr::Client::new(&s.direct), "own-only").await;
    create_repository(
        &aws_sdk_ecr::Client::new(&acting_in(&s.direct, MEMBER).await),
        "member-only",
    )
    .await;
    create_repository(
        &aws_sdk_ecr::Client::new(&acting_in(&s.direct, OTHER).await),
        "other-only",
    )
    .await;

    let config = s
        .access
        .sdk_config(&id(MEMBER), &region(), TIMEOUT)
        .await
        .expect("member account");
    assert_eq!(repositories(&config).await, ["member-only@111111111111"]);
    let config = s
        .access
        .sdk_config(&id(OTHER), &region(), TIMEOUT)
        .await
        .expect("other account");
    assert_eq!(repositories(&config).await, ["other-only@222222222222"]);
}

#[tokio::test]
async fn credentials_are_assumed_once_per_account_then_cached() {
    let s = setup().await;
    for _ in 0..3 {
        s.access
            .sdk_config(&id(MEMBER), &region(), TIMEOUT)
            .await
            .expect("member account");
    }
    assert_eq!(
        s.proxy.seen("AssumeRole"),
        1,
        "one AssumeRole for three configurations"
    );
    s.access
        .sdk_config(&id(OTHER), &region(), TIMEOUT)
        .await
        .expect("other account");
    assert_eq!(s.proxy.seen("AssumeRole"), 2, "each account has its own");
}

#[tokio::test]
async fn a_slow_sts_is_cut_at_the_timeout_and_reported_as_such() {
    let s = setup().await;
    s.proxy
        .inject("AssumeRole", Fault::Delay(Duration::from_secs(5)), usize::MAX);
    let started = Instant::now();
    let e = s
        .access
        .sdk_config(&id(MEMBER), &region(), Duration::from_millis(500))
        .await
        .expect_err("STS answers after the timeout");
    let took = started.elapsed();
    assert_eq!(e.kind, MemberErrorKind::Timeout);
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(
        e.to_string(),
        "cannot assume LookoutReader in 111111111111: STS did not answer in time"
    );
}

#[tokio::test]
async fn a_denied_role_is_named_with_its_account_and_not_cached() {
    let s = setup().await;
    s.proxy.inject_when(
        "AssumeRole",
        Some("333333333333"),
        Fault::Error("AccessDenied"),
        usize::MAX,
    );
    for _ in 0..2 {
        let e = s
            .access
            .sdk_config(&id("333333333333"), &region(), TIMEOUT)
            .await
            .expect_err("denied");
        assert_eq!(e.kind, MemberErrorKind::Denied);
        assert_eq!(
            e.to_string(),
            "cannot assume LookoutReader in 333333333333: access denied (role missing or not trusting this function)"
        );
    }
    assert_eq!(
        s.proxy.seen("AssumeRole"),
        2,
        "a failure is asked again, not cached"
    );
    // Another member is unaffected.
    s.access
        .sdk_config(&id(MEMBER), &region(), TIMEOUT)
        .await
        .expect("member account");
}
