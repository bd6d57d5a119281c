//! Reading in an organisation's member accounts: a central function assumes the member's
//! reader role (`MEMBER_ROLE_NAME`, default `LookoutReader`; org/member.yaml creates it) with
//! STS, and builds that account's clients from the credentials.
//!
//! - The function's own account needs no role: its own SDK configuration is used.
//! - Credentials are cached per account until five minutes before they expire, across warm
//!   invocations, so a storm of events from one member costs one AssumeRole an hour.
//! - Every AssumeRole is bounded by the caller's timeout (from the deadline). A member that
//!   cannot be read is a [`MemberError`] naming the role, the account and why; callers still
//!   alert, without the detail, and say so.

use crate::aws::{SdkError, describe_sdk_error, error_code};
use crate::config::{ConfigError, Env, shape};
use crate::ids::{AccountId, Region};
use crate::invocation::Invocation;
use crate::metrics::Metric;
use aws_config::SdkConfig;
use aws_types::sdk_config::SharedCredentialsProvider;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long assumed credentials are asked for: STS's default, and the cap under role chaining.
const SESSION: Duration = Duration::from_secs(3_600);
/// Credentials are renewed this long before they expire, so no call starts with dying ones.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Accounts whose credentials are kept; ACCOUNTS allows 1,000; beyond this, accounts re-assume.
const MAX_CACHED: usize = 1_024;

/// `MEMBER_ROLE_NAME` and `MEMBER_EXTERNAL_ID`, checked once at init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    /// The reader role's name in every member account.
    pub role_name: String,
    /// The `sts:ExternalId` the reader role's trust policy asks for, if any.
    pub external_id: Option<String>,
}

impl MemberConfig {
    /// From the environment: the role name as IAM allows it (1–64 of `A-Za-z0-9+=,.@_-`), the
    /// external id as STS allows it (2–1,224 of `A-Za-z0-9+=,.@:/_-`). Errors name the
    /// variable, never the value.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let role_name = env.get("MEMBER_ROLE_NAME").unwrap_or("LookoutReader");
        let role_ok = (1..=64).contains(&role_name.len())
            && role_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !role_ok {
            return Err(ConfigError::new(
                "MEMBER_ROLE_NAME",
                format!(
                    "must be an IAM role name (1-64 of A-Za-z0-9+=,.@_-); {}",
                    shape(role_name)
                ),
            ));
        }
        let external_id = env.get("MEMBER_EXTERNAL_ID");
        if let Some(id) = external_id
            && !((2..=1_224).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b)))
        {
            return Err(ConfigError::new(
                "MEMBER_EXTERNAL_ID",
                format!("must be 2-1224 of A-Za-z0-9+=,.@:/_-; {}", shape(id)),
            ));
        }
        Ok(Self {
            role_name: role_name.to_owned(),
            external_id: external_id.map(str::to_owned),
        })
    }
}

/// Why a member account could not be read; the words an alert shows
/// ("cannot assume LookoutReader in 111111111111: access denied").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot assume {role} in {account}: {}", kind.describe())]
pub struct MemberError {
    /// The reader role's name.
    pub role: String,
    /// The member account.
    pub account: String,
    /// What went wrong.
    pub kind: MemberErrorKind,
    /// The service's error code and message or the wire problem, for our log line.
    pub detail: String,
}

/// The ways assuming a member's role fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberErrorKind {
    /// The role does not exist, or its trust policy does not name this function's role.
    Denied,
    /// STS throttled the call after the SDK's retries.
    Throttled,
    /// No answer within the time the deadline left.
    Timeout,
    /// Anything else STS or the network reported.
    Unavailable,
}

impl MemberErrorKind {
    /// Short words for alerts and summaries.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Denied => "access denied (role missing or not trusting this function)",
            Self::Throttled => "STS throttled the request",
            Self::Timeout => "STS did not answer in time",
            Self::Unavailable => "STS could not be reached",
        }
    }
}

/// Member accounts whose reader role could not be assumed (the alert went out without the
/// detail read there).
const MEMBER_ACCESS_FAILURES: Metric = Metric::count("MemberAccessFailures");

/// Never fails the alert: the member account is logged (its id, the role, the kind and STS's
/// answer; nothing of the event) and counted in `MemberAccessFailures`; the caller's alert
/// says why it lacks what it would have read there.
pub fn report(ctx: &mut Invocation, e: &MemberError) {
    tracing::warn!(
        account = %e.account,
        role = %e.role,
        kind = ?e.kind,
        detail = %e.detail,
        "cannot read a member account: alerting without what it would read there"
    );
    ctx.metrics.add(MEMBER_ACCESS_FAILURES, 1);
}

#[derive(Debug, Clone)]
struct Cached {
    credentials: aws_sdk_sts::config::Credentials,
    renew_at: SystemTime,
}

/// The function's way into member accounts: its own SDK configuration, its account, an STS
/// client and the credentials cache.
#[derive(Debug)]
pub struct MemberAccess {
    base: SdkConfig,
    own: AccountId,
    /// Built at the first AssumeRole: a single-account stack never pays for it at cold start.
    sts: std::sync::OnceLock<aws_sdk_sts::Client>,
    config: MemberConfig,
    session_name: String,
    cache: Mutex<HashMap<String, Cached>>,
}

impl MemberAccess {
    /// For `function` (the role session name says who assumed), acting as `own` account.
    pub fn new(base: &SdkConfig, own: AccountId, config: MemberConfig, function: &str) -> Self {
        Self {
            base: base.clone(),
            own,
            sts: std::sync::OnceLock::new(),
            config,
            session_name: format!("lookout-{function}"),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The reader role's name.
    pub fn role_name(&self) -> &str {
        &self.config.role_name
    }

    /// Whether `account` is the function's own (no role needed).
    pub fn is_own(&self, account: &AccountId) -> bool {
        *account == *self.own.as_str()
    }

    /// The SDK configuration for reads in `account` and `region`: the function's own for its
    /// own account, else one on the member's reader-role credentials (assumed within
    /// `timeout`, or cached).
    pub async fn sdk_config(
        &self,
        account: &AccountId,
        region: &Region,
        timeout: Duration,
    ) -> Result<SdkConfig, MemberError> {
        let builder = self
            .base
            .to_builder()
            .region(aws_config::Region::new(region.as_str().to_owned()));
        if self.is_own(account) {
            return Ok(builder.build());
        }
        let credentials = self.credentials(account, region, timeout).await?;
        Ok(builder
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }

    fn cached(&self, account: &AccountId) -> Option<aws_sdk_sts::config::Credentials> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(account.as_str())
            .filter(|c| c.renew_at > SystemTime::now())
            .map(|c| c.credentials.clone())
    }

    async fn credentials(
        &self,
        account: &AccountId,
        region: &Region,
        timeout: Duration,
    ) -> Result<aws_sdk_sts::config::Credentials, MemberError> {
        if let Some(credentials) = self.cached(account) {
            return Ok(credentials);
        }
        let role_arn = format!(
            "arn:{}:iam::{}:role/{}",
            region.partition(),
            account.as_str(),
            self.config.role_name
        );
        let error = |kind, detail: String| MemberError {
            role: self.config.role_name.clone(),
            account: account.as_str().to_owned(),
            kind,
            detail,
        };
        let call = self
            .sts
            .get_or_init(|| aws_sdk_sts::Client::new(&self.base))
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.config.external_id.clone())
            .duration_seconds(i32::try_from(SESSION.as_secs()).unwrap_or(3_600))
            .customize()
            .config_override(
                aws_sdk_sts::config::Builder::default().timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_timeout(timeout)
                        .build(),
                ),
            )
            .send();
        let out = match tokio::time::timeout(timeout, call).await {
            Err(_) => {
                return Err(error(
                    MemberErrorKind::Timeout,
                    format!("no answer within {} ms", timeout.as_millis()),
                ));
            }
            Ok(Err(e)) => return Err(error(classify(&e), describe_sdk_error(&e))),
            Ok(Ok(out)) => out,
        };
        let Some(c) = out.credentials else {
            return Err(error(
                MemberErrorKind::Unavailable,
                "AssumeRole answered without credentials".into(),
            ));
        };
        let expires: SystemTime = c.expiration.try_into().unwrap_or_else(|_| SystemTime::now());
        let credentials = aws_sdk_sts::config::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expires),
            "lookout-member",
        );
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            account.as_str().to_owned(),
            Cached {
                credentials: credentials.clone(),
                renew_at: expires.checked_sub(RENEW_BEFORE).unwrap_or(expires),
            },
        );
        Ok(credentials)
    }
}

fn classify<E>(e: &SdkError<E>) -> MemberErrorKind
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    match e {
        SdkError::ServiceError(_) => match error_code(e) {
            Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => MemberErrorKind::Throttled,
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "NoSuchEntity"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "RegionDisabledException",
            ) => MemberErrorKind::Denied,
            _ => MemberErrorKind::Unavailable,
        },
        SdkError::TimeoutError(_) => MemberErrorKind::Timeout,
        _ => MemberErrorKind::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_name_defaults_and_bad_values_are_named_not_echoed() {
        let c = MemberConfig::from_env(&Env::default()).unwrap();
        assert_eq!(c.role_name, "LookoutReader");
        assert_eq!(c.external_id, None);
        let e =
            MemberConfig::from_env(&Env::from_pairs([("MEMBER_ROLE_NAME", "role/hunter2 x")])).unwrap_err();
        assert!(e.to_string().contains("MEMBER_ROLE_NAME"));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        // IAM's bounds: 64 characters is a role name, 65 is not.
        let at = |n: usize| MemberConfig::from_env(&Env::from_pairs([("MEMBER_ROLE_NAME", "r".repeat(n))]));
        assert_eq!(at(64).unwrap().role_name.len(), 64);
        assert_eq!(at(65).unwrap_err().variable, "MEMBER_ROLE_NAME");
        let e = MemberConfig::from_env(&Env::from_pairs([("MEMBER_EXTERNAL_ID", "x")])).unwrap_err();
        assert!(e.to_string().contains("MEMBER_EXTERNAL_ID"));
        let ok = MemberConfig::from_env(&Env::from_pairs([
            ("MEMBER_ROLE_NAME", "OrgLookout-Reader"),
            ("MEMBER_EXTERNAL_ID", "lookout-central"),
        ]))
        .unwrap();
        assert_eq!(
            ok,
            MemberConfig {
                role_name: "OrgLookout-Reader".into(),
                external_id: Some("lookout-central".into())
            }
        );
    }

    #[test]
    fn errors_say_which_role_in_which_account_and_why() {
        let e = MemberError {
            role: "LookoutReader".into(),
            account: "111111111111".into(),
            kind: MemberErrorKind::Denied,
            detail: "AccessDenied".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot assume LookoutReader in 111111111111: access denied (role missing or not trusting this function)"
        );
    }
}
