//! The registries of an organisation's member accounts (`ACCOUNTS`): each reached through the
//! member reader role (`lookout_shared::member`), with clients of its own, so each account's
//! calls are signed, pooled and paced apart from the others'.

use crate::config::RescanConfig;
use crate::ecr::{EcrRegistry, Registry};
use crate::inspector::{Inspector, Inspector2};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::{MemberAccess, MemberError};
use std::future::Future;
use std::time::Duration;

/// The way into member accounts' registries.
pub trait Members: Send + Sync {
    /// A member's ECR.
    type Registry: Registry;
    /// A member's Amazon Inspector.
    type Inspector: Inspector;

    /// `account`'s registry and Inspector in the function's region, on its reader role's
    /// credentials (assumed within `timeout`, or cached).
    fn reach(
        &self,
        account: &AccountId,
        timeout: Duration,
    ) -> impl Future<Output = Result<(Self::Registry, Self::Inspector), MemberError>> + Send;
}

/// [`Members`] over STS and the SDK: `main.rs` builds it when `ACCOUNTS` is set.
#[derive(Debug)]
pub struct MemberRegistries {
    access: MemberAccess,
    region: Region,
}

impl MemberRegistries {
    /// Members reached through `access`, in the function's region.
    pub fn new(access: MemberAccess, config: &RescanConfig) -> Self {
        Self {
            access,
            region: config.region.clone(),
        }
    }
}

impl Members for MemberRegistries {
    type Registry = EcrRegistry;
    type Inspector = Inspector2;

    async fn reach(
        &self,
        account: &AccountId,
        timeout: Duration,
    ) -> Result<(EcrRegistry, Inspector2), MemberError> {
        let sdk = self.access.sdk_config(account, &self.region, timeout).await?;
        Ok((
            EcrRegistry::new(aws_sdk_ecr::Client::new(&sdk)),
            Inspector2::new(aws_sdk_inspector2::Client::new(&sdk)),
        ))
    }
}
