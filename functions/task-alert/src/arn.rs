//! ECS ARNs and names, validated before anything is built from them: console links and log
//! stream names are made only of parts that passed these checks.

use serde::Serialize;

use lookout_shared::ids::{AccountId, Region};

/// ECS cluster, service, container and task definition family names: letters, digits,
/// `-` and `_`, 1 to 255 characters (what ECS accepts).
pub(crate) fn is_ecs_name(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A task id: 32 hex digits today, a UUID for old tasks.
pub(crate) fn is_task_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, checked part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arn<'a> {
    region: Region,
    account: AccountId,
    resource: &'a str,
}

impl<'a> Arn<'a> {
    fn parse(raw: &'a str, service: &str) -> Option<Self> {
        if raw.len() > 1600 {
            return None;
        }
        let mut parts = raw.splitn(6, ':');
        let (arn, partition, svc, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let region = Region::parse(region)?;
        let account = AccountId::parse(account)?;
        let ok = arn == "arn" && partition == region.partition() && svc == service;
        ok.then_some(Self {
            region,
            account,
            resource,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct ClusterArn {
    pub(crate) arn: String,
    pub(crate) region: Region,
    pub(crate) account: AccountId,
    pub(crate) name: String,
}

impl ClusterArn {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let arn = Arn::parse(raw, "ecs")?;
        let name = arn.resource.strip_prefix("cluster/")?;
        is_ecs_name(name).then(|| Self {
            arn: raw.to_string(),
            region: arn.region.clone(),
            account: arn.account.clone(),
            name: name.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct TaskArn {
    pub(crate) arn: String,
    pub(crate) region: Region,
    pub(crate) account: AccountId,
    /// Absent in the old ARN format (`task/ID`).
    pub(crate) cluster: Option<String>,
    pub(crate) id: String,
}

impl TaskArn {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let arn = Arn::parse(raw, "ecs")?;
        let rest = arn.resource.strip_prefix("task/")?;
        let (cluster, id) = match rest.split_once('/') {
            Some((cluster, id)) => (Some(cluster), id),
            None => (None, rest),
        };
        let ok = cluster.is_none_or(is_ecs_name) && is_task_id(id);
        ok.then(|| Self {
            arn: raw.to_string(),
            region: arn.region.clone(),
            account: arn.account.clone(),
            cluster: cluster.map(String::from),
            id: id.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub(crate) struct ServiceArn {
    pub(crate) arn: String,
    pub(crate) region: Region,
    pub(crate) account: AccountId,
    /// Absent in the old ARN format (`service/NAME`).
    pub(crate) cluster: Option<String>,
    pub(crate) name: String,
}

impl ServiceArn {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let arn = Arn::parse(raw, "ecs")?;
        let rest = arn.resource.strip_prefix("service/")?;
        let (cluster, name) = match rest.split_once('/') {
            Some((cluster, name)) => (Some(cluster), name),
            None => (None, rest),
        };
        let ok = cluster.is_none_or(is_ecs_name) && is_ecs_name(name);
        ok.then(|| Self {
            arn: raw.to_string(),
            region: arn.region.clone(),
            account: arn.account.clone(),
            cluster: cluster.map(String::from),
            name: name.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TaskDefinitionArn {
    pub arn: String,
    pub region: Region,
    pub account: AccountId,
    pub family: String,
    pub revision: u32,
}

impl TaskDefinitionArn {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let arn = Arn::parse(raw, "ecs")?;
        let rest = arn.resource.strip_prefix("task-definition/")?;
        let (family, revision) = rest.rsplit_once(':')?;
        let revision: u32 = revision.parse().ok().filter(|r| *r > 0)?;
        is_ecs_name(family).then(|| Self {
            arn: raw.to_string(),
            region: arn.region.clone(),
            account: arn.account.clone(),
            family: family.to_string(),
            revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-5",
        ] {
            assert!(Region::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-123",
            "us--east-1",
            "east-1",
            "us-east-1/",
            "u s-east-1",
            "us-east-1\n",
            "evil.example/x-1",
        ] {
            assert!(Region::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(Region::parse("cn-northwest-1").unwrap().partition(), "aws-cn");
        assert!(!Region::parse("us-isob-east-1").unwrap().has_known_console());
        assert!(!Region::parse("eusc-de-east-1").unwrap().has_known_console());
        assert!(Region::parse("us-gov-east-1").unwrap().has_known_console());
    }

    /// Each isolated partition by its own name: `arn:aws-iso-b:` for a us-isob region, not
    /// `arn:aws-iso:` (which refused every real ARN there).
    #[test]
    fn arns_of_every_partition() {
        for (arn, region) in [
            (
                "arn:aws-iso-b:ecs:us-isob-east-1:111122223333:cluster/c",
                "us-isob-east-1",
            ),
            (
                "arn:aws-iso:ecs:us-iso-east-1:111122223333:cluster/c",
                "us-iso-east-1",
            ),
            (
                "arn:aws-iso-e:ecs:eu-isoe-west-1:111122223333:cluster/c",
                "eu-isoe-west-1",
            ),
            (
                "arn:aws-iso-f:ecs:us-isof-south-1:111122223333:cluster/c",
                "us-isof-south-1",
            ),
            (
                "arn:aws-eusc:ecs:eusc-de-east-1:111122223333:cluster/c",
                "eusc-de-east-1",
            ),
        ] {
            assert_eq!(ClusterArn::parse(arn).unwrap().region.as_str(), region);
        }
        assert!(ClusterArn::parse("arn:aws-iso:ecs:us-isob-east-1:111122223333:cluster/c").is_none());
        assert!(ClusterArn::parse("arn:awsbogus:ecs:us-east-1:111122223333:cluster/c").is_none());
    }

    #[test]
    fn task_arns_both_formats() {
        let t = TaskArn::parse(
            "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        )
        .unwrap();
        assert_eq!(t.cluster.as_deref(), Some("FargateCluster"));
        assert_eq!(t.id, "c13b4cb40f1f4fe4a2971f76ae5a47ad");
        let old =
            TaskArn::parse("arn:aws:ecs:us-east-1:123456789012:task/0b1a4979-3846-4e3e-846f-b63a9ad545b0")
                .unwrap();
        assert_eq!(old.cluster, None);
        for bad in [
            "arn:aws:ecs:us-east-1:123456789012:task/c/../x",
            "arn:aws:ecs:us-east-1:123456789012:task/c/a b",
            "arn:aws-cn:ecs:us-east-1:123456789012:task/c/abc",
            "arn:aws:ec2:us-east-1:123456789012:task/c/abc",
            "arn:aws:ecs:us-east-1:12345:task/c/abc",
            "arn:aws:ecs:us-east-1:123456789012:task/c/abc?x=<script>",
            "arn:aws:ecs:us-east-1:123456789012:task/",
        ] {
            assert!(TaskArn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn services_clusters_and_task_definitions() {
        let s = ServiceArn::parse("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest").unwrap();
        assert_eq!(
            (s.cluster.as_deref(), s.name.as_str()),
            (Some("default"), "servicetest")
        );
        assert_eq!(
            ServiceArn::parse("arn:aws:ecs:us-west-2:111122223333:service/web")
                .unwrap()
                .cluster,
            None
        );
        let c = ClusterArn::parse("arn:aws-us-gov:ecs:us-gov-west-1:111122223333:cluster/prod_1").unwrap();
        assert_eq!(c.name, "prod_1");
        let d =
            TaskDefinitionArn::parse("arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:12")
                .unwrap();
        assert_eq!((d.family.as_str(), d.revision), ("sample-fargate", 12));
        for bad in [
            "arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate",
            "arn:aws:ecs:us-west-2:111122223333:task-definition/sample fargate:1",
            "arn:aws:ecs:us-west-2:111122223333:task-definition/x:0",
            "arn:aws:ecs:us-west-2:111122223333:task-definition/x:-1",
        ] {
            assert!(TaskDefinitionArn::parse(bad).is_none(), "{bad}");
        }
        assert!(ClusterArn::parse("arn:aws:ecs:us-west-2:111122223333:cluster/a/b").is_none());
    }
}
