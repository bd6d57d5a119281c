//! The dying container's last log lines: its `awslogs` configuration from the task
//! definition, then the tail of its stream. Every failure here becomes a sentence in the
//! alert, never a failed invocation: the alert matters more than its log lines.
//!
//! The reads are made in the task's account and region: with the function's own credentials
//! for its own account, else on the member account's reader role
//! (`lookout_shared::member`). A member that cannot be read is said in the alert too.

use crate::arn::TaskDefinitionArn;
use aws_sdk_ecs::config::ProvideCredentials;
use lookout_shared::aws::describe_sdk_error;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::{MemberAccess, MemberError};
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How many lines and bytes of the tail to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    pub lines: usize,
    pub bytes: usize,
}

/// Which container of which task.
#[derive(Debug, Clone, Copy)]
pub struct LogRequest<'a> {
    pub task_definition: &'a TaskDefinitionArn,
    pub container: &'a str,
    pub task_id: &'a str,
    /// The container runtime's id: the stream name when no `awslogs-stream-prefix` is set.
    pub runtime_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    pub region: Region,
    pub group: String,
    pub stream: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub message: String,
}

/// What the log lookup found. Everything but `Lines` is said in the alert instead of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutcome {
    /// Oldest first; bounded by [`LogLimits`]. `omitted`: lines read but not kept.
    Lines {
        stream: LogStream,
        lines: Vec<LogLine>,
        omitted: usize,
    },
    /// The stream exists but has no events.
    Empty {
        stream: LogStream,
    },
    /// The log group or stream does not exist (retention, never created, deleted).
    StreamMissing {
        stream: LogStream,
    },
    /// FireLens, splunk, json-file...: the logs are elsewhere.
    NotAwslogs {
        driver: String,
    },
    NoLogConfiguration,
    /// awslogs without `awslogs-stream-prefix` and no container runtime id to name the stream.
    StreamUnknown {
        group: String,
    },
    /// The task definition has no container of that name.
    ContainerNotInDefinition,
    /// The event lists no container to look up.
    NoContainer,
    /// The container never started (image pull, secrets): it wrote nothing.
    NeverRan,
    /// An API call failed: which one, and what it said.
    Unavailable {
        call: &'static str,
        detail: String,
    },
    /// The lookup would have run into the Lambda deadline.
    TimedOut,
    /// The task's (member) account could not be read: its reader role could not be assumed.
    MemberUnreachable(MemberError),
}

impl LogOutcome {
    pub(crate) fn status(&self) -> &'static str {
        match self {
            LogOutcome::Lines { .. } => "shown",
            LogOutcome::Empty { .. } => "empty",
            LogOutcome::StreamMissing { .. } => "streamMissing",
            LogOutcome::NotAwslogs { .. } => "notAwslogs",
            LogOutcome::NoLogConfiguration => "noLogConfiguration",
            LogOutcome::StreamUnknown { .. } => "streamUnknown",
            LogOutcome::ContainerNotInDefinition => "containerNotInDefinition",
            LogOutcome::NoContainer => "noContainer",
            LogOutcome::NeverRan => "neverRan",
            LogOutcome::Unavailable { .. } => "unavailable",
            LogOutcome::TimedOut => "timedOut",
            LogOutcome::MemberUnreachable(_) => "memberUnreachable",
        }
    }

    pub(crate) fn stream(&self) -> Option<&LogStream> {
        match self {
            LogOutcome::Lines { stream, .. }
            | LogOutcome::Empty { stream }
            | LogOutcome::StreamMissing { stream } => Some(stream),
            _ => None,
        }
    }
}

/// What the lookup learned: the log outcome, and whether the container is essential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub essential: Option<bool>,
    pub logs: LogOutcome,
}

/// Where the last lines come from: first a reader for the task's account and region, then
/// the reads through it.
pub trait LogSource: Send + Sync {
    /// What the reads in one account and region need (clients on its credentials).
    type Reader: Send + Sync;

    /// The reader for `account` and `region`; for another account than the function's own,
    /// on that account's reader role, assumed within `timeout` (or cached).
    fn reader(
        &self,
        account: &AccountId,
        region: &Region,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Reader, MemberError>> + Send;

    fn last_lines(
        &self,
        reader: &Self::Reader,
        request: LogRequest<'_>,
    ) -> impl Future<Output = Fetched> + Send;

    /// Whether each container of the task definition is essential
    /// (`containerDefinitions[].essential`, true when unset); `None` when it cannot be read.
    /// Asked only when more than one container of a task stopped it.
    fn essential_containers(
        &self,
        reader: &Self::Reader,
        task_definition: &TaskDefinitionArn,
    ) -> impl Future<Output = Option<HashMap<String, bool>>> + Send {
        let _ = (reader, task_definition);
        async { None }
    }
}

/// The awslogs options of one container definition, as the task definition has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogConfig {
    pub(crate) driver: String,
    pub(crate) options: HashMap<String, String>,
}

/// Where the container's awslogs stream is, from its log configuration (AWS documents the
/// stream name as `PREFIX/CONTAINER-NAME/TASK-ID` when a prefix is set).
pub(crate) fn locate(
    config: Option<&LogConfig>,
    request: &LogRequest<'_>,
    default_region: &Region,
) -> Result<LogStream, LogOutcome> {
    let Some(config) = config else {
        return Err(LogOutcome::NoLogConfiguration);
    };
    if config.driver != "awslogs" {
        return Err(LogOutcome::NotAwslogs {
            driver: config.driver.clone(),
        });
    }
    let invalid = |what: &str| LogOutcome::Unavailable {
        call: "log configuration",
        detail: format!("{what} is not a valid CloudWatch Logs name"),
    };
    let group = config
        .options
        .get("awslogs-group")
        .ok_or(LogOutcome::NoLogConfiguration)?;
    if !is_log_group_name(group) {
        return Err(invalid("awslogs-group"));
    }
    let region = match config.options.get("awslogs-region") {
        None => default_region.clone(),
        Some(r) => Region::parse(r).ok_or_else(|| invalid("awslogs-region"))?,
    };
    let stream = match (config.options.get("awslogs-stream-prefix"), request.runtime_id) {
        (Some(prefix), _) => format!("{prefix}/{}/{}", request.container, request.task_id),
        (None, Some(runtime_id)) => runtime_id.to_string(),
        (None, None) => return Err(LogOutcome::StreamUnknown { group: group.clone() }),
    };
    if !is_log_stream_name(&stream) {
        return Err(invalid("the log stream name"));
    }
    Ok(LogStream {
        region,
        group: group.clone(),
        stream,
    })
}

/// CloudWatch Logs group names: 1-512 of `A-Za-z0-9 _ - / . #`.
fn is_log_group_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b))
}

/// Stream names: 1-512 characters, no `:` or `*`; control characters refused as well.
fn is_log_stream_name(s: &str) -> bool {
    (1..=512).contains(&s.len()) && !s.chars().any(|c| c == ':' || c == '*' || c.is_control())
}

/// The newest lines that fit `limits`, oldest first. Returns the lines kept and how many
/// were dropped.
///
/// A newest line longer than the byte budget is kept whole, not cut: a cut before redaction
/// leaves the part of a secret before it, which no rule recognises (30 characters of a
/// 40-character key). It is cut after redaction, when rendered (`Detail::item_bytes`, at most
/// `LOG_BYTES`); CloudWatch Logs bounds one event's size.
pub(crate) fn keep_tail(mut events: Vec<LogLine>, limits: LogLimits) -> (Vec<LogLine>, usize) {
    events.sort_by_key(|e| e.timestamp_ms);
    let total = events.len();
    let mut kept: Vec<LogLine> = Vec::new();
    let mut bytes = 0usize;
    for line in events.into_iter().rev() {
        if kept.len() >= limits.lines {
            break;
        }
        let left = limits.bytes.saturating_sub(bytes);
        if line.message.len() > left && !(kept.is_empty() && left > 0) {
            break;
        }
        bytes = bytes.saturating_add(line.message.len());
        kept.push(line);
    }
    kept.reverse();
    let omitted = total - kept.len();
    (kept, omitted)
}

/// Task definitions kept per warm container: a revision never changes, so the essential flags
/// and the log configuration come from one `DescribeTaskDefinition`, and repeated stops of a
/// service make no call. Bounded: emptied when full, so memory stays flat over weeks.
const CACHED_DEFINITIONS: usize = 64;
/// Readers (clients per account and region) kept per warm container; bounded the same way.
const CACHED_READERS: usize = 64;

type Containers = Vec<aws_sdk_ecs::types::ContainerDefinition>;

/// The real thing: `ecs:DescribeTaskDefinition`, then `logs:GetLogEvents` from the tail, in
/// the task's account and region.
#[derive(Debug)]
pub struct AwsLogSource {
    access: MemberAccess,
    limits: LogLimits,
    readers: Mutex<HashMap<(AccountId, Region), AccountLogs>>,
    /// By the account read in and the revision's ARN.
    definitions: Mutex<HashMap<(AccountId, String), Containers>>,
}

/// ECS and CloudWatch Logs clients acting in one account and region.
#[derive(Debug, Clone)]
pub struct AccountLogs {
    account: AccountId,
    region: Region,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    /// The access key the clients sign with: a member's renewed session gets new clients.
    key_id: Option<String>,
}

/// A cache's map, even if a panic poisoned its lock: every entry is whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AwsLogSource {
    /// Reads through `access`: the function's own account with its own credentials, member
    /// accounts on their reader role.
    pub fn new(access: MemberAccess, limits: LogLimits) -> Self {
        Self {
            access,
            limits,
            readers: Mutex::new(HashMap::new()),
            definitions: Mutex::new(HashMap::new()),
        }
    }

    /// The container definitions of a revision, from the cache or one call.
    async fn containers(
        &self,
        reader: &AccountLogs,
        task_definition: &TaskDefinitionArn,
    ) -> Result<Containers, LogOutcome> {
        let key = (reader.account.clone(), task_definition.arn.clone());
        if let Some(containers) = lock(&self.definitions).get(&key).cloned() {
            return Ok(containers);
        }
        let out = reader
            .ecs
            .describe_task_definition()
            .task_definition(&task_definition.arn)
            .send()
            .await
            .map_err(|e| LogOutcome::Unavailable {
                call: "ecs:DescribeTaskDefinition",
                detail: describe_sdk_error(&e),
            })?;
        let containers = out
            .task_definition
            .and_then(|d| d.container_definitions)
            .unwrap_or_default();
        let mut cache = lock(&self.definitions);
        if cache.len() >= CACHED_DEFINITIONS {
            cache.clear();
        }
        cache.insert(key, containers.clone());
        Ok(containers)
    }

    async fn definition(
        &self,
        reader: &AccountLogs,
        request: &LogRequest<'_>,
    ) -> Result<(Option<bool>, Option<LogConfig>), LogOutcome> {
        let container = self
            .containers(reader, request.task_definition)
            .await?
            .into_iter()
            .find(|c| c.name.as_deref() == Some(request.container))
            .ok_or(LogOutcome::ContainerNotInDefinition)?;
        let config = container.log_configuration.map(|l| LogConfig {
            driver: l.log_driver.as_str().to_string(),
            options: l.options.unwrap_or_default(),
        });
        Ok((container.essential, config))
    }

    async fn tail(&self, reader: &AccountLogs, stream: LogStream) -> LogOutcome {
        let call = reader
            .logs
            .get_log_events()
            .log_group_name(&stream.group)
            .log_stream_name(&stream.stream)
            .start_from_head(false)
            .limit(i32::try_from(self.limits.lines).unwrap_or(10_000));
        // The awslogs-region of the container may differ from the task's.
        let result = if stream.region == reader.region {
            call.send().await
        } else {
            let region = aws_sdk_cloudwatchlogs::config::Region::new(stream.region.as_str().to_string());
            call.customize()
                .config_override(aws_sdk_cloudwatchlogs::config::Builder::default().region(region))
                .send()
                .await
        };
        match result {
            Ok(out) => {
                let events: Vec<LogLine> = out
                    .events
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| LogLine {
                        timestamp_ms: e.timestamp.unwrap_or_default(),
                        message: e.message.unwrap_or_default(),
                    })
                    .collect();
                if events.is_empty() {
                    return LogOutcome::Empty { stream };
                }
                let (lines, omitted) = keep_tail(events, self.limits);
                LogOutcome::Lines {
                    stream,
                    lines,
                    omitted,
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                LogOutcome::StreamMissing { stream }
            }
            Err(e) => LogOutcome::Unavailable {
                call: "logs:GetLogEvents",
                detail: describe_sdk_error(&e),
            },
        }
    }
}

impl LogSource for AwsLogSource {
    type Reader = AccountLogs;

    /// Clients for `account` and `region`, kept across warm invocations while their
    /// credentials are the ones `MemberAccess` hands out (it renews a member's before they
    /// expire; new credentials, new clients).
    async fn reader(
        &self,
        account: &AccountId,
        region: &Region,
        timeout: Duration,
    ) -> Result<AccountLogs, MemberError> {
        let sdk = self.access.sdk_config(account, region, timeout).await?;
        // Static credentials (a member's) answer at once; the own account's come from the
        // environment.
        let key_id = match sdk.credentials_provider() {
            Some(provider) => provider
                .provide_credentials()
                .await
                .ok()
                .map(|c| c.access_key_id().to_owned()),
            None => None,
        };
        let key = (account.clone(), region.clone());
        if let Some(reader) = lock(&self.readers).get(&key).filter(|r| r.key_id == key_id) {
            return Ok(reader.clone());
        }
        let reader = AccountLogs {
            account: account.clone(),
            region: region.clone(),
            ecs: aws_sdk_ecs::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            key_id,
        };
        let mut readers = lock(&self.readers);
        if readers.len() >= CACHED_READERS && !readers.contains_key(&key) {
            readers.clear();
        }
        readers.insert(key, reader.clone());
        Ok(reader)
    }

    async fn essential_containers(
        &self,
        reader: &AccountLogs,
        task_definition: &TaskDefinitionArn,
    ) -> Option<HashMap<String, bool>> {
        Some(
            self.containers(reader, task_definition)
                .await
                .ok()?
                .into_iter()
                .filter_map(|c| Some((c.name?, c.essential.unwrap_or(true))))
                .collect(),
        )
    }

    async fn last_lines(&self, reader: &AccountLogs, request: LogRequest<'_>) -> Fetched {
        let (essential, config) = match self.definition(reader, &request).await {
            Ok(found) => found,
            Err(logs) => {
                return Fetched {
                    essential: None,
                    logs,
                };
            }
        };
        let logs = match locate(config.as_ref(), &request, &reader.region) {
            Ok(stream) => self.tail(reader, stream).await,
            Err(outcome) => outcome,
        };
        Fetched { essential, logs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> TaskDefinitionArn {
        TaskDefinitionArn::parse("arn:aws:ecs:us-east-1:123456789012:task-definition/web:4").unwrap()
    }

    fn config(driver: &str, options: &[(&str, &str)]) -> LogConfig {
        LogConfig {
            driver: driver.into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn stream_names_follow_the_awslogs_rule() {
        let d = definition();
        let region = Region::parse("us-east-1").unwrap();
        let request = LogRequest {
            task_definition: &d,
            container: "app",
            task_id: "abc123",
            runtime_id: Some("dockerid"),
        };
        let c = config(
            "awslogs",
            &[
                ("awslogs-group", "/ecs/web"),
                ("awslogs-stream-prefix", "ecs"),
                ("awslogs-region", "eu-west-1"),
            ],
        );
        let s = locate(Some(&c), &request, &region).unwrap();
        assert_eq!(
            (s.group.as_str(), s.stream.as_str(), s.region.as_str()),
            ("/ecs/web", "ecs/app/abc123", "eu-west-1")
        );
        let no_prefix = config("awslogs", &[("awslogs-group", "/ecs/web")]);
        assert_eq!(
            locate(Some(&no_prefix), &request, &region).unwrap().stream,
            "dockerid"
        );
        let without_id = LogRequest {
            runtime_id: None,
            ..request
        };
        assert_eq!(
            locate(Some(&no_prefix), &without_id, &region),
            Err(LogOutcome::StreamUnknown {
                group: "/ecs/web".into()
            })
        );
        assert_eq!(
            locate(
                Some(&config("awsfirelens", &[("Name", "datadog")])),
                &request,
                &region
            ),
            Err(LogOutcome::NotAwslogs {
                driver: "awsfirelens".into()
            })
        );
        assert_eq!(
            locate(None, &request, &region),
            Err(LogOutcome::NoLogConfiguration)
        );
        for bad in [
            config("awslogs", &[("awslogs-group", "/ecs/web?x=1")]),
            config(
                "awslogs",
                &[("awslogs-group", "/ecs/web"), ("awslogs-region", "evil.example")],
            ),
            config(
                "awslogs",
                &[("awslogs-group", "/ecs/web"), ("awslogs-stream-prefix", "a:b")],
            ),
        ] {
            assert!(
                matches!(
                    locate(Some(&bad), &request, &region),
                    Err(LogOutcome::Unavailable { .. })
                ),
                "{bad:?}"
            );
        }
    }

    fn line(ts: i64, m: &str) -> LogLine {
        LogLine {
            timestamp_ms: ts,
            message: m.into(),
        }
    }

    #[test]
    fn the_tail_is_bounded_by_lines_and_bytes() {
        let events = vec![line(3, "ccc"), line(1, "a"), line(2, "bb"), line(4, "dddd")];
        let (kept, omitted) = keep_tail(events.clone(), LogLimits { lines: 2, bytes: 100 });
        assert_eq!(kept, vec![line(3, "ccc"), line(4, "dddd")]);
        assert_eq!(omitted, 2);
        let (kept, omitted) = keep_tail(events.clone(), LogLimits { lines: 10, bytes: 8 });
        assert_eq!(kept, vec![line(3, "ccc"), line(4, "dddd")]);
        assert_eq!(omitted, 2);
        // Too long for the budget: kept whole, and cut once redacted (`render`).
        let (kept, _) = keep_tail(vec![line(1, "héllo wörld")], LogLimits { lines: 10, bytes: 3 });
        assert_eq!(kept, vec![line(1, "héllo wörld")]);
        let (kept, omitted) = keep_tail(
            vec![line(1, "a"), line(2, "héllo wörld")],
            LogLimits { lines: 10, bytes: 3 },
        );
        assert_eq!((kept, omitted), (vec![line(2, "héllo wörld")], 1));
        assert_eq!(
            keep_tail(Vec::new(), LogLimits { lines: 1, bytes: 1 }),
            (Vec::new(), 0)
        );
    }
}
