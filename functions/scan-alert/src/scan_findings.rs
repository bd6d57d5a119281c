//! A basic scan's findings (DescribeImageScanFindings) behind a narrow trait, and its
//! aws-sdk-ecr adapter: in single-account mode with the function's own client, in
//! organisation mode in the event's account and region (a member's through its reader role,
//! `lookout_shared::member`), with clients kept per account and region across warm
//! invocations.

use aws_sdk_ecr::config::ProvideCredentials;
use aws_sdk_ecr::types::ImageIdentifier;
use lookout_shared::aws::ApiError;
use lookout_shared::findings::{Finding, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::{MemberAccess, MemberError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Clients (per account and region) kept per warm container; emptied when full, so memory
/// stays flat however many accounts send events.
const CACHED_CLIENTS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicScanFindings {
    pub status: Option<String>,
    pub description: Option<String>,
    pub findings: Vec<Finding>,
    /// Every finding was read (the limit was not reached).
    pub complete: bool,
}

/// Where an image's findings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry<'a> {
    /// Single-account mode: the function's own client and region, whatever account and region
    /// the event names (as before organisation mode).
    Default,
    /// Organisation mode: the event's account (the function's own with its own credentials, a
    /// member's through its reader role) and region.
    Of {
        account: &'a AccountId,
        region: &'a Region,
    },
}

/// Why an image's findings could not be read; the alert goes out without them and says this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingsError {
    /// The member account's reader role could not be assumed.
    #[error(transparent)]
    Member(#[from] MemberError),
    /// ECR answered with an error (after the SDK's retries).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The read took the whole of its share of the deadline.
    #[error("DescribeImageScanFindings: no answer within {ms} ms")]
    TimedOut { ms: u128 },
}

pub trait ScanFindingsSource: Send + Sync {
    /// The image's basic scan findings in `registry`, at most `limit`, worst first. A member's
    /// reader role is assumed within `assume_timeout` (or its credentials are cached); the
    /// caller bounds the whole read.
    fn basic_findings(
        &self,
        registry: Registry<'_>,
        repository: &str,
        digest: &str,
        limit: usize,
        assume_timeout: Duration,
    ) -> impl Future<Output = Result<BasicScanFindings, FindingsError>> + Send;
}

impl<S: ScanFindingsSource> ScanFindingsSource for &S {
    fn basic_findings(
        &self,
        registry: Registry<'_>,
        repository: &str,
        digest: &str,
        limit: usize,
        assume_timeout: Duration,
    ) -> impl Future<Output = Result<BasicScanFindings, FindingsError>> + Send {
        (**self).basic_findings(registry, repository, digest, limit, assume_timeout)
    }
}

/// The real thing: `ecr:DescribeImageScanFindings`, paginated.
#[derive(Debug)]
pub struct EcrScanFindings {
    /// The function's own client, for [`Registry::Default`].
    own: aws_sdk_ecr::Client,
    /// The own account's and the members' configurations, for [`Registry::Of`].
    access: MemberAccess,
    clients: Mutex<HashMap<(AccountId, Region), AccountClient>>,
}

/// An ECR client acting in one account and region.
#[derive(Debug, Clone)]
struct AccountClient {
    ecr: aws_sdk_ecr::Client,
    /// The access key a member's client signs with: renewed credentials, a new client. `None`
    /// for the own account, whose provider renews itself.
    key_id: Option<String>,
}

/// A cache's map, even if a panic poisoned its lock: every entry is whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EcrScanFindings {
    /// `own` reads in single-account mode; `access` reaches the event's account in
    /// organisation mode.
    pub fn new(own: aws_sdk_ecr::Client, access: MemberAccess) -> Self {
        Self {
            own,
            access,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `account` and `region`, kept while its credentials are the ones
    /// `MemberAccess` hands out (it renews a member's before they expire).
    async fn client(
        &self,
        account: &AccountId,
        region: &Region,
        assume_timeout: Duration,
    ) -> Result<aws_sdk_ecr::Client, MemberError> {
        let sdk = self.access.sdk_config(account, region, assume_timeout).await?;
        // A member's credentials are static and answer at once.
        let key_id = match sdk.credentials_provider() {
            Some(provider) if !self.access.is_own(account) => provider
                .provide_credentials()
                .await
                .ok()
                .map(|c| c.access_key_id().to_owned()),
            _ => None,
        };
        let key = (account.clone(), region.clone());
        if let Some(cached) = lock(&self.clients).get(&key).filter(|c| c.key_id == key_id) {
            return Ok(cached.ecr.clone());
        }
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let mut clients = lock(&self.clients);
        if clients.len() >= CACHED_CLIENTS && !clients.contains_key(&key) {
            clients.clear();
        }
        clients.insert(
            key,
            AccountClient {
                ecr: ecr.clone(),
                key_id,
            },
        );
        Ok(ecr)
    }
}

impl ScanFindingsSource for EcrScanFindings {
    async fn basic_findings(
        &self,
        registry: Registry<'_>,
        repository: &str,
        digest: &str,
        limit: usize,
        assume_timeout: Duration,
    ) -> Result<BasicScanFindings, FindingsError> {
        let (client, registry_id) = match registry {
            Registry::Default => (self.own.clone(), None),
            Registry::Of { account, region } => (
                self.client(account, region, assume_timeout).await?,
                Some(account.as_str().to_owned()),
            ),
        };
        let mut pages = client
            .describe_image_scan_findings()
            .set_registry_id(registry_id)
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = BasicScanFindings {
            complete: true,
            ..BasicScanFindings::default()
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("DescribeImageScanFindings", &e))?;
            if let Some(status) = page.image_scan_status {
                out.status = status.status.map(|s| s.as_str().to_string());
                out.description = status.description;
            }
            for f in page
                .image_scan_findings
                .and_then(|s| s.findings)
                .unwrap_or_default()
            {
                if out.findings.len() >= limit {
                    out.complete = false;
                    break;
                }
                let attribute = |key: &str| {
                    f.attributes
                        .as_ref()?
                        .iter()
                        .find(|a| a.key == key)
                        .and_then(|a| a.value.clone())
                };
                out.findings.push(Finding {
                    vulnerability_id: f.name.clone().unwrap_or_default(),
                    severity: f
                        .severity
                        .as_ref()
                        .and_then(|s| VulnSeverity::parse(s.as_str()))
                        .unwrap_or(VulnSeverity::Untriaged),
                    title: f.description.clone().unwrap_or_default(),
                    package: attribute("package_name"),
                    installed_version: attribute("package_version"),
                    fixed_in_version: None,
                    fix_available: None,
                    exploit_available: None,
                    score: attribute("CVSS3_SCORE")
                        .or_else(|| attribute("CVSS2_SCORE"))
                        .and_then(|s| s.parse().ok()),
                    repository: repository.to_string(),
                    digest: digest.to_string(),
                    tags: Vec::new(),
                });
            }
            if !out.complete {
                break;
            }
        }
        out.findings.sort_by(Finding::worst_first);
        Ok(out)
    }
}
