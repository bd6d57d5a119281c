//! ECS console and CloudWatch Logs links, built only from validated parts (a parsed region and
//! ECS names of `A-Za-z0-9-_`), so no event text can shape a link. Partition-aware through
//! `lookout_shared::console::console_base`.

use crate::arn::{TaskDefinitionArn, is_ecs_name};
use crate::logs::LogStream;
use lookout_shared::console;
use lookout_shared::ids::Region;
use serde::Serialize;

/// The Logs Insights link covers the task's last minutes before the stop.
const INSIGHTS_BEFORE_MS: i64 = 15 * 60_000;
/// The log stream link opens a window ending a little after the stop.
const STREAM_BEFORE_MS: i64 = 10 * 60_000;
const AFTER_MS: i64 = 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_definition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log_stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logs_insights: Option<String>,
}

impl Links {
    /// In the order a reader wants them, with labels.
    pub(crate) fn labelled(&self) -> Vec<(&'static str, &str)> {
        [
            ("Task (ECS shows stopped tasks for about an hour)", &self.task),
            ("Service", &self.service),
            ("Task definition", &self.task_definition),
            ("Log stream at the stop", &self.log_stream),
            ("Logs Insights, last 15 minutes", &self.logs_insights),
        ]
        .into_iter()
        .filter_map(|(label, link)| link.as_deref().map(|l| (label, l)))
        .collect()
    }
}

fn base(region: &Region) -> Option<String> {
    region.has_known_console().then(|| console::console_base(region))
}

pub(crate) fn task(region: &Region, cluster: &str, task_id: &str) -> Option<String> {
    let ok = is_ecs_name(cluster) && crate::arn::is_task_id(task_id);
    ok.then(|| base(region))?.map(|b| {
        format!(
            "{b}/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={}",
            region.as_str()
        )
    })
}

pub(crate) fn service(region: &Region, cluster: &str, service: &str) -> Option<String> {
    let ok = is_ecs_name(cluster) && is_ecs_name(service);
    ok.then(|| base(region))?.map(|b| {
        format!(
            "{b}/ecs/v2/clusters/{cluster}/services/{service}/health?region={}",
            region.as_str()
        )
    })
}

pub(crate) fn task_definition(definition: &TaskDefinitionArn) -> Option<String> {
    let region = &definition.region;
    let ok = is_ecs_name(&definition.family);
    ok.then(|| base(region))?.map(|b| {
        format!(
            "{b}/ecs/v2/task-definitions/{}/{}/containers?region={}",
            definition.family,
            definition.revision,
            region.as_str()
        )
    })
}

/// The stream, opened at the minutes before the stop (names percent-encoded by the shared code).
pub(crate) fn log_stream(stream: &LogStream, stopped_at_ms: i64) -> Option<String> {
    base(&stream.region)?;
    Some(console::log_stream_url(
        &stream.region,
        &stream.group,
        &stream.stream,
        stopped_at_ms.saturating_sub(STREAM_BEFORE_MS),
        stopped_at_ms.saturating_add(AFTER_MS),
    ))
}

/// Logs Insights over the task's stream for its last minutes. The stream name goes into the
/// query only when it is made of characters that cannot end the quoted string.
pub(crate) fn logs_insights(stream: &LogStream, stopped_at_ms: i64) -> Option<String> {
    base(&stream.region)?;
    let plain = stream
        .stream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./#$[]".contains(&b));
    let filter = if plain {
        format!("| filter @logStream = '{}'\n", stream.stream)
    } else {
        String::new()
    };
    let query =
        format!("fields @timestamp, @logStream, @message\n{filter}| sort @timestamp desc\n| limit 200");
    Some(console::logs_insights_url(
        &stream.region,
        &stream.group,
        &query,
        stopped_at_ms.saturating_sub(INSIGHTS_BEFORE_MS),
        stopped_at_ms.saturating_add(AFTER_MS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(r: &str) -> Region {
        Region::parse(r).unwrap()
    }

    #[test]
    fn console_pages() {
        assert_eq!(
            task(&region("us-east-1"), "prod", "0123abcd").as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/0123abcd/configuration?region=us-east-1"
            )
        );
        assert_eq!(
            service(&region("cn-north-1"), "prod", "web").as_deref(),
            Some(
                "https://cn-north-1.console.amazonaws.cn/ecs/v2/clusters/prod/services/web/health?region=cn-north-1"
            )
        );
        let d =
            TaskDefinitionArn::parse("arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/web:7")
                .unwrap();
        assert_eq!(
            task_definition(&d).as_deref(),
            Some(
                "https://console.amazonaws-us-gov.com/ecs/v2/task-definitions/web/7/containers?region=us-gov-west-1"
            )
        );
    }

    #[test]
    fn links_only_from_valid_parts() {
        let r = region("us-east-1");
        assert_eq!(task(&r, "prod/../x", "abc"), None);
        assert_eq!(task(&r, "prod", "abc?x=1"), None);
        assert_eq!(service(&r, "prod", "web)[x](https://evil.example"), None);
        assert_eq!(service(&region("us-isob-east-1"), "prod", "web"), None);
    }

    #[test]
    fn log_links_window_the_stop() {
        let s = LogStream {
            region: region("eu-west-1"),
            group: "/ecs/web".into(),
            stream: "ecs/app/abc".into(),
        };
        let url = log_stream(&s, 3_600_000).unwrap();
        assert!(
            url.contains(
                "log-group/$252Fecs$252Fweb/log-events/ecs$252Fapp$252Fabc$3Fstart$3D3000000$26end$3D3660000"
            ),
            "{url}"
        );
        let q = logs_insights(&s, 3_600_000).unwrap();
        assert!(
            q.contains("filter*20*40logStream*20*3D*20*27ecs*2Fapp*2Fabc*27"),
            "{q}"
        );
        let odd = LogStream {
            stream: "a'b".into(),
            ..s
        };
        assert!(!logs_insights(&odd, 0).unwrap().contains("filter"));
    }
}
