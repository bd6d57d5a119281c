//! Which events are news. For task stops, the stop code says who stopped the task; the reason
//! strings and the containers' exit codes say why (ECS "stopped tasks error codes" and
//! "stopped task errors"). For service events, the event name says what failed, or that the
//! service is steady again (a recovery); Health notices are news for ECS only.

use crate::event::{Container, DeploymentChange, HealthNotice, ServiceAction, TaskStop};
use lookout_shared::severity::Severity;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A stop nobody needs to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub(crate) enum Expected {
    /// `UserInitiated`: someone called StopTask.
    UserStopped,
    /// The service scheduler scaled in.
    ScaleIn,
    /// The service scheduler replaced the task during a deployment.
    DeploymentReplacement,
    /// A one-off task whose containers all exited 0.
    Completed,
}

impl Expected {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expected::UserStopped => "UserStopped",
            Expected::ScaleIn => "ScaleIn",
            Expected::DeploymentReplacement => "DeploymentReplacement",
            Expected::Completed => "Completed",
        }
    }
}

/// Why an abnormal stop is abnormal. `as_str` is the `reason` MessageAttribute; serialized
/// (the same names) in a crash loop's open-alert note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Problem {
    OutOfMemory,
    EssentialContainerExited,
    /// A service task's essential container exited 0: the service expected it to keep running.
    ServiceTaskExited,
    ImagePullFailed,
    SecretsUnavailable,
    ResourceInitializationFailed,
    FailedToStart,
    ElbHealthCheckFailed,
    ContainerHealthCheckFailed,
    SpotInterruption,
    TerminationNotice,
    InfrastructureHealth,
    /// Stopped by the service scheduler for a reason not known to be routine.
    StoppedByScheduler,
    Unknown,
}

impl Problem {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Problem::OutOfMemory => "OutOfMemory",
            Problem::EssentialContainerExited => "EssentialContainerExited",
            Problem::ServiceTaskExited => "ServiceTaskExited",
            Problem::ImagePullFailed => "ImagePullFailed",
            Problem::SecretsUnavailable => "SecretsUnavailable",
            Problem::ResourceInitializationFailed => "ResourceInitializationFailed",
            Problem::FailedToStart => "FailedToStart",
            Problem::ElbHealthCheckFailed => "ElbHealthCheckFailed",
            Problem::ContainerHealthCheckFailed => "ContainerHealthCheckFailed",
            Problem::SpotInterruption => "SpotInterruption",
            Problem::TerminationNotice => "TerminationNotice",
            Problem::InfrastructureHealth => "InfrastructureHealth",
            Problem::StoppedByScheduler => "StoppedByScheduler",
            Problem::Unknown => "Unknown",
        }
    }

    /// Short, for Subjects: "ran out of memory", "could not pull its image".
    pub(crate) fn headline(self) -> &'static str {
        match self {
            Problem::OutOfMemory => "killed: out of memory",
            Problem::EssentialContainerExited => "essential container exited",
            Problem::ServiceTaskExited => "service task exited",
            Problem::ImagePullFailed => "image pull failed",
            Problem::SecretsUnavailable => "secrets could not be fetched",
            Problem::ResourceInitializationFailed => "task resources failed to initialize",
            Problem::FailedToStart => "task failed to start",
            Problem::ElbHealthCheckFailed => "failed ELB health checks",
            Problem::ContainerHealthCheckFailed => "failed container health checks",
            Problem::SpotInterruption => "Spot interruption",
            Problem::TerminationNotice => "termination notice",
            Problem::InfrastructureHealth => "stopped for infrastructure health",
            Problem::StoppedByScheduler => "stopped by the service scheduler",
            Problem::Unknown => "stopped unexpectedly",
        }
    }

    /// The container never ran, so it wrote no log lines.
    pub(crate) fn never_ran(self) -> bool {
        matches!(
            self,
            Problem::ImagePullFailed
                | Problem::SecretsUnavailable
                | Problem::ResourceInitializationFailed
                | Problem::FailedToStart
        )
    }

    pub(crate) fn severity(self, spot: Severity) -> Severity {
        match self {
            Problem::SpotInterruption => spot,
            Problem::TerminationNotice
            | Problem::InfrastructureHealth
            | Problem::StoppedByScheduler
            | Problem::ServiceTaskExited => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// What a task state change means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not `STOPPED` yet: the rule's pattern should have filtered it out.
    NotStopped,
    Expected(Expected),
    Abnormal(Abnormal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Abnormal {
    pub(crate) problem: Problem,
    /// Index into `TaskStop::containers` of the container that failed, when one did.
    pub(crate) container: Option<usize>,
}

const SCALING: &str = "Scaling activity initiated by";
const ELB: &str = "failed ELB health checks";
const CONTAINER_HEALTH: &str = "failed container health checks";

pub(crate) fn classify(task: &TaskStop) -> Verdict {
    if !task.last_status.eq_ignore_ascii_case("STOPPED") {
        return Verdict::NotStopped;
    }
    let reason = task.stopped_reason.as_deref().unwrap_or_default();
    let abnormal = |problem, container| Verdict::Abnormal(Abnormal { problem, container });
    match task.stop_code.as_deref() {
        Some("UserInitiated") => Verdict::Expected(Expected::UserStopped),
        Some("SpotInterruption") => abnormal(Problem::SpotInterruption, None),
        Some("TerminationNotice") => abnormal(Problem::TerminationNotice, None),
        Some("InfrastructureHealth") => abnormal(Problem::InfrastructureHealth, None),
        Some("TaskFailedToStart") => failed_to_start(task),
        Some("ServiceSchedulerInitiated") => {
            scheduler(reason).unwrap_or(abnormal(Problem::StoppedByScheduler, None))
        }
        Some("EssentialContainerExited") => exited(task),
        // No or an unknown stop code: the reason text still tells.
        _ => {
            if let Some(v) = scheduler(reason) {
                v
            } else if starts_failed(reason)
                || task
                    .containers
                    .iter()
                    .any(|c| c.reason.as_deref().is_some_and(starts_failed))
            {
                failed_to_start(task)
            } else if reason.starts_with("Essential container in task exited")
                || task.containers.iter().any(|c| c.exit_code.is_some())
            {
                exited(task)
            } else if reason.contains("stopped by user") || reason.contains("Stopped by user") {
                Verdict::Expected(Expected::UserStopped)
            } else {
                abnormal(Problem::Unknown, None)
            }
        }
    }
}

/// The service scheduler's reasons: health checks (news) or scaling (routine).
fn scheduler(reason: &str) -> Option<Verdict> {
    let abnormal = |problem| {
        Some(Verdict::Abnormal(Abnormal {
            problem,
            container: None,
        }))
    };
    if reason.contains(ELB) {
        abnormal(Problem::ElbHealthCheckFailed)
    } else if reason.contains(CONTAINER_HEALTH) {
        abnormal(Problem::ContainerHealthCheckFailed)
    } else {
        // "Scaling activity initiated by (deployment ecs-svc/123)" replaces tasks during a deployment.
        reason.strip_prefix(SCALING).map(|by| {
            Verdict::Expected(if by.trim_start().starts_with("(deployment ") {
                Expected::DeploymentReplacement
            } else {
                Expected::ScaleIn
            })
        })
    }
}

fn starts_failed(text: &str) -> bool {
    text.contains("CannotPullContainerError")
        || text.contains("ResourceInitializationError")
        || text.contains("CannotStartContainerError")
        || text.contains("CannotCreateVolumeError")
}

fn failed_to_start(task: &TaskStop) -> Verdict {
    // The container's own reason is the most specific; the task's repeats one of them.
    let container = task
        .containers
        .iter()
        .position(|c| c.reason.as_deref().is_some_and(starts_failed));
    let text = container
        .and_then(|i| task.containers[i].reason.as_deref())
        .or(task.stopped_reason.as_deref())
        .unwrap_or_default();
    let problem = if text.contains("CannotPullContainerError") || text.contains("pull image manifest") {
        Problem::ImagePullFailed
    } else if text.contains("ResourceInitializationError") {
        let lower = text.to_ascii_lowercase();
        if lower.contains("secret") || lower.contains("ssm") || lower.contains("parameter") {
            Problem::SecretsUnavailable
        } else {
            Problem::ResourceInitializationFailed
        }
    } else {
        Problem::FailedToStart
    };
    Verdict::Abnormal(Abnormal { problem, container })
}

fn is_oom(c: &Container) -> bool {
    c.reason
        .as_deref()
        .is_some_and(|r| r.contains("OutOfMemoryError"))
        || c.exit_code == Some(137)
}

/// A container that stopped the task: killed, exited non-zero, or stopped with a reason.
pub(crate) fn stopped_it(c: &Container) -> bool {
    is_oom(c) || c.exit_code.is_some_and(|code| code != 0) || (c.exit_code.is_none() && c.reason.is_some())
}

/// The problem a container's stop is, once it is the one blamed.
pub(crate) fn exit_problem(c: &Container) -> Problem {
    if is_oom(c) {
        Problem::OutOfMemory
    } else {
        Problem::EssentialContainerExited
    }
}

/// Of the containers that stopped a task (`candidates`, the one [`classify`] blamed first), the
/// one to blame: the first the task definition marks essential. A non-essential sidecar that
/// exited (143 when ECS stopped it) did not stop the task. `None`: keep the first.
pub(crate) fn blame_essential(candidates: &[Container], essential: &HashMap<String, bool>) -> Option<usize> {
    if essential.get(&candidates.first()?.name) == Some(&true) {
        return None;
    }
    candidates
        .iter()
        .position(|c| essential.get(&c.name) == Some(&true))
        .filter(|&i| i > 0)
}

/// Of the same candidates, the sidecar to show after the blamed one (`blamed`, an index): the
/// first other container the task definition marks non-essential.
pub(crate) fn sidecar<'c>(
    candidates: &'c [Container],
    blamed: usize,
    essential: &HashMap<String, bool>,
) -> Option<&'c Container> {
    candidates
        .iter()
        .enumerate()
        .find(|(i, c)| *i != blamed && essential.get(&c.name) == Some(&false))
        .map(|(_, c)| c)
}

fn exited(task: &TaskStop) -> Verdict {
    let cs = &task.containers;
    let pick = |f: &dyn Fn(&Container) -> bool| cs.iter().position(f);
    let oom = pick(&|c| {
        c.reason
            .as_deref()
            .is_some_and(|r| r.contains("OutOfMemoryError"))
    })
    .or_else(|| pick(&is_oom));
    if let Some(i) = oom {
        return Verdict::Abnormal(Abnormal {
            problem: Problem::OutOfMemory,
            container: Some(i),
        });
    }
    if let Some(i) = pick(&|c| c.exit_code.is_some_and(|code| code != 0)) {
        return Verdict::Abnormal(Abnormal {
            problem: Problem::EssentialContainerExited,
            container: Some(i),
        });
    }
    if let Some(i) = pick(&|c| c.exit_code.is_none() && c.reason.is_some()) {
        return Verdict::Abnormal(Abnormal {
            problem: Problem::EssentialContainerExited,
            container: Some(i),
        });
    }
    // Every container that exited said 0.
    if task.service().is_some() {
        Verdict::Abnormal(Abnormal {
            problem: Problem::ServiceTaskExited,
            container: pick(&|c| c.exit_code == Some(0)),
        })
    } else {
        Verdict::Expected(Expected::Completed)
    }
}

/// Why a deployment or service event is an alert; serialized in a failed deployment's
/// open-alert note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ServiceProblem {
    DeploymentFailed,
    DeploymentRolledBack,
    PlacementFailed,
    ConfigurationFailed,
    StartImpaired,
}

impl ServiceProblem {
    /// The `reason` MessageAttribute.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ServiceProblem::DeploymentFailed => "DeploymentFailed",
            ServiceProblem::DeploymentRolledBack => "DeploymentRolledBack",
            ServiceProblem::PlacementFailed => "TaskPlacementFailed",
            ServiceProblem::ConfigurationFailed => "TaskConfigurationFailed",
            ServiceProblem::StartImpaired => "TaskStartImpaired",
        }
    }

    /// Short, for Subjects.
    pub(crate) fn headline(self) -> &'static str {
        match self {
            ServiceProblem::DeploymentFailed => "deployment failed",
            ServiceProblem::DeploymentRolledBack => "deployment rolled back by the circuit breaker",
            ServiceProblem::PlacementFailed => "tasks cannot be placed",
            ServiceProblem::ConfigurationFailed => "tasks cannot be placed: configuration error",
            ServiceProblem::StartImpaired => "tasks keep failing to start",
        }
    }

    /// A failed deployment: its alert stays open until the service is steady again.
    pub(crate) fn is_deployment(self) -> bool {
        matches!(
            self,
            ServiceProblem::DeploymentFailed | ServiceProblem::DeploymentRolledBack
        )
    }

    pub(crate) fn severity(self) -> Severity {
        match self {
            ServiceProblem::DeploymentFailed => Severity::Critical,
            ServiceProblem::StartImpaired => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// What a Health notice means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum News<T> {
    Alert(T),
    /// Not news, and why (a summary key): another AWS service...
    Ignored(&'static str),
}

/// What a deployment or service action says about its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServiceNews {
    Failed(ServiceProblem),
    /// Steady again: resolves the service's open alert, if it has one (the state table's).
    Steady,
    /// Not news, and why (a summary key): in progress, desired count updated...
    Ignored(&'static str),
}

/// A failed deployment, or one the circuit breaker is rolling back; a completed one is steady.
pub(crate) fn deployment(d: &DeploymentChange) -> ServiceNews {
    let rolled_back = d.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS"
        && d.reason
            .as_deref()
            .is_some_and(|r| r.contains("circuit breaker") && r.contains("rolling back"));
    match d.event_name.as_str() {
        "SERVICE_DEPLOYMENT_FAILED" => ServiceNews::Failed(ServiceProblem::DeploymentFailed),
        "SERVICE_DEPLOYMENT_COMPLETED" => ServiceNews::Steady,
        _ if rolled_back => ServiceNews::Failed(ServiceProblem::DeploymentRolledBack),
        _ => ServiceNews::Ignored("deployment event that is not a failure"),
    }
}

/// Tasks the service cannot place or start, or the service steady (`SERVICE_STEADY_STATE`,
/// which ECS also repeats every few hours: only the first after an open alert resolves it).
pub(crate) fn service_action(a: &ServiceAction) -> ServiceNews {
    match a.event_name.as_str() {
        "SERVICE_TASK_PLACEMENT_FAILURE" => ServiceNews::Failed(ServiceProblem::PlacementFailed),
        "SERVICE_TASK_CONFIGURATION_FAILURE" => ServiceNews::Failed(ServiceProblem::ConfigurationFailed),
        "SERVICE_TASK_START_IMPAIRED" => ServiceNews::Failed(ServiceProblem::StartImpaired),
        "SERVICE_STEADY_STATE" => ServiceNews::Steady,
        _ => ServiceNews::Ignored("service action that is not a failure"),
    }
}

/// Health notices for ECS (task retirements, patching) are news; another service's are not.
pub(crate) fn health(h: &HealthNotice) -> News<()> {
    if h.service.eq_ignore_ascii_case("ECS") {
        News::Alert(())
    } else {
        News::Ignored("health event for another service")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, parse_value};

    fn task(
        stop_code: Option<&str>,
        reason: &str,
        group: &str,
        containers: &[(&str, Option<i64>, Option<&str>)],
    ) -> TaskStop {
        let containers: Vec<serde_json::Value> = containers
            .iter()
            .map(|(n, code, r)| serde_json::json!({"name": n, "exitCode": code, "reason": r}))
            .collect();
        let event = serde_json::json!({
            "detail-type": "ECS Task State Change", "source": "aws.ecs", "region": "us-east-1", "id": "1", "account": "123456789012",
            "detail": {
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
                "lastStatus": "STOPPED", "stopCode": stop_code, "stoppedReason": reason, "group": group,
                "containers": containers,
            }
        });
        match parse_value(event).unwrap().remove(0).kind {
            EventKind::Task(t) => *t,
            _ => unreachable!(),
        }
    }

    fn problem(v: Verdict) -> (Problem, Option<usize>) {
        match v {
            Verdict::Abnormal(a) => (a.problem, a.container),
            other => panic!("expected abnormal, got {other:?}"),
        }
    }

    #[test]
    fn routine_stops_are_expected() {
        let scale = task(
            Some("ServiceSchedulerInitiated"),
            "Scaling activity initiated by (service web)",
            "service:web",
            &[("app", Some(137), None)],
        );
        assert_eq!(classify(&scale), Verdict::Expected(Expected::ScaleIn));
        let deploy = task(
            Some("ServiceSchedulerInitiated"),
            "Scaling activity initiated by (deployment ecs-svc/7341894720139876352)",
            "service:web",
            &[("app", Some(0), None)],
        );
        assert_eq!(
            classify(&deploy),
            Verdict::Expected(Expected::DeploymentReplacement)
        );
        let user = task(
            Some("UserInitiated"),
            "Task stopped by user",
            "service:web",
            &[("app", Some(143), None)],
        );
        assert_eq!(classify(&user), Verdict::Expected(Expected::UserStopped));
        let batch = task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            "family:nightly",
            &[("job", Some(0), None), ("sidecar", Some(0), None)],
        );
        assert_eq!(classify(&batch), Verdict::Expected(Expected::Completed));
        let mut running = batch.clone();
        running.last_status = "RUNNING".into();
        assert_eq!(classify(&running), Verdict::NotStopped);
    }

    #[test]
    fn failures_name_the_container_and_the_reason() {
        let oom = task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            "service:web",
            &[
                ("envoy", Some(0), None),
                (
                    "app",
                    Some(137),
                    Some("OutOfMemoryError: Container killed due to memory usage"),
                ),
            ],
        );
        assert_eq!(problem(classify(&oom)), (Problem::OutOfMemory, Some(1)));
        let killed = task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            "service:web",
            &[("app", Some(137), None)],
        );
        assert_eq!(problem(classify(&killed)), (Problem::OutOfMemory, Some(0)));
        let exit1 = task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            "family:job",
            &[("log_router", Some(0), None), ("app", Some(1), None)],
        );
        assert_eq!(
            problem(classify(&exit1)),
            (Problem::EssentialContainerExited, Some(1))
        );
        let exit0 = task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            "service:web",
            &[("app", Some(0), None)],
        );
        assert_eq!(problem(classify(&exit0)).0, Problem::ServiceTaskExited);
        let pull = task(
            Some("TaskFailedToStart"),
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref",
            "service:web",
            &[(
                "app",
                None,
                Some("CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
            )],
        );
        assert_eq!(problem(classify(&pull)), (Problem::ImagePullFailed, Some(0)));
        let secrets = task(
            Some("TaskFailedToStart"),
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm",
            "service:web",
            &[("app", None, None)],
        );
        assert_eq!(problem(classify(&secrets)), (Problem::SecretsUnavailable, None));
        let logging = task(
            Some("TaskFailedToStart"),
            "ResourceInitializationError: failed to initialize logging driver",
            "service:web",
            &[],
        );
        assert_eq!(
            problem(classify(&logging)).0,
            Problem::ResourceInitializationFailed
        );
        let elb = task(
            Some("ServiceSchedulerInitiated"),
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/abc)",
            "service:web",
            &[("app", Some(137), None)],
        );
        assert_eq!(problem(classify(&elb)).0, Problem::ElbHealthCheckFailed);
        let health = task(
            Some("ServiceSchedulerInitiated"),
            "Task failed container health checks",
            "service:web",
            &[],
        );
        assert_eq!(problem(classify(&health)).0, Problem::ContainerHealthCheckFailed);
        let spot = task(
            Some("SpotInterruption"),
            "Your Spot Task was interrupted.",
            "service:web",
            &[],
        );
        assert_eq!(problem(classify(&spot)).0, Problem::SpotInterruption);
        let other = task(
            Some("ServiceSchedulerInitiated"),
            "Something new",
            "service:web",
            &[],
        );
        assert_eq!(problem(classify(&other)).0, Problem::StoppedByScheduler);
        let unknown = task(None, "", "service:web", &[]);
        assert_eq!(problem(classify(&unknown)).0, Problem::Unknown);
    }

    #[test]
    fn severities() {
        assert_eq!(
            Problem::SpotInterruption.severity(Severity::Notice),
            Severity::Notice
        );
        assert_eq!(Problem::OutOfMemory.severity(Severity::Notice), Severity::Error);
        assert!(Problem::ImagePullFailed.never_ran() && !Problem::OutOfMemory.never_ran());
    }

    /// Service and Health events: the event name says what failed or that the service is
    /// steady; a rollback is news only when the circuit breaker is rolling back; Health
    /// notices are news for ECS only.
    #[test]
    fn service_and_health_events_are_news_only_when_they_report_a_failure() {
        let event = |detail_type: &str, source: &str, detail: serde_json::Value| {
            let event = serde_json::json!({
                "detail-type": detail_type, "source": source, "region": "us-east-1",
                "account": "123456789012",
                "resources": ["arn:aws:ecs:us-east-1:123456789012:service/prod/web"],
                "detail": detail,
            });
            parse_value(event).unwrap().remove(0).kind
        };
        let deployment = |name: &str, reason: &str| {
            let EventKind::Deployment(d) = event(
                "ECS Deployment State Change",
                "aws.ecs",
                serde_json::json!({"eventName": name, "reason": reason}),
            ) else {
                unreachable!()
            };
            deployment(&d)
        };
        assert_eq!(
            deployment("SERVICE_DEPLOYMENT_FAILED", "tasks failed to start"),
            ServiceNews::Failed(ServiceProblem::DeploymentFailed)
        );
        assert_eq!(
            deployment(
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1"
            ),
            ServiceNews::Failed(ServiceProblem::DeploymentRolledBack)
        );
        assert_eq!(
            deployment(
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "ECS deployment ecs-svc/2 in progress."
            ),
            ServiceNews::Ignored("deployment event that is not a failure")
        );
        // Issue 22 §4: a completed deployment is the service steady again.
        assert_eq!(
            deployment(
                "SERVICE_DEPLOYMENT_COMPLETED",
                "ECS deployment ecs-svc/2 completed."
            ),
            ServiceNews::Steady
        );
        let action = |name: &str| {
            let EventKind::ServiceAction(a) = event(
                "ECS Service Action",
                "aws.ecs",
                serde_json::json!({"eventName": name}),
            ) else {
                unreachable!()
            };
            service_action(&a)
        };
        assert_eq!(
            action("SERVICE_TASK_PLACEMENT_FAILURE"),
            ServiceNews::Failed(ServiceProblem::PlacementFailed)
        );
        assert_eq!(
            action("SERVICE_TASK_CONFIGURATION_FAILURE"),
            ServiceNews::Failed(ServiceProblem::ConfigurationFailed)
        );
        assert_eq!(
            action("SERVICE_TASK_START_IMPAIRED"),
            ServiceNews::Failed(ServiceProblem::StartImpaired)
        );
        assert_eq!(action("SERVICE_STEADY_STATE"), ServiceNews::Steady);
        assert_eq!(
            action("SERVICE_DESIRED_COUNT_UPDATED"),
            ServiceNews::Ignored("service action that is not a failure")
        );
        let notice = |service: &str| {
            let EventKind::Health(h) = event(
                "AWS Health Event",
                "aws.health",
                serde_json::json!({"service": service, "eventTypeCode": "AWS_ECS_TASK_PATCHING_RETIREMENT"}),
            ) else {
                unreachable!()
            };
            health(&h)
        };
        assert_eq!(notice("ECS"), News::Alert(()));
        assert_eq!(notice("EC2"), News::Ignored("health event for another service"));
    }
}
