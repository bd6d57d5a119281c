//! ECS and CloudWatch Logs fixtures on moto for task-alert: task definitions (awslogs or
//! FireLens) and a container's log stream with its last lines.

use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};

/// The OOM-killed task of `events/task-alert/oom-killed.json`.
pub const OOM_TASK: &str = "5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21";

/// The lines `web_app_with_oom_logs` writes, oldest first; the second holds a secret.
pub const OOM_LINES: [&str; 5] = [
    "starting web-app v2.3.1",
    "connected to db with password=hunter2",
    "loading product catalogue into memory",
    "cache size 1843 MiB",
    "GC overhead limit approaching",
];

pub async fn register(ecs: &aws_sdk_ecs::Client, family: &str, container: &str, logging: LogConfiguration) {
    ecs.register_task_definition()
        .family(family)
        .container_definitions(
            ContainerDefinition::builder()
                .name(container)
                .image(format!(
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/{family}:v2.3.1"
                ))
                .essential(true)
                .memory(512)
                .log_configuration(logging)
                .build(),
        )
        .send()
        .await
        .expect("register task definition");
}

/// web-app:1 logs with awslogs (group `/ecs/web-app`, prefix `ecs`); payments:1 with
/// FireLens. The OOM task's stream `ecs/app/<OOM_TASK>` holds [`OOM_LINES`].
pub async fn web_app_with_oom_logs(config: &aws_config::SdkConfig) {
    let ecs = aws_sdk_ecs::Client::new(config);
    let awslogs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/web-app")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .expect("awslogs configuration");
    register(&ecs, "web-app", "app", awslogs).await;
    let firelens = LogConfiguration::builder()
        .log_driver(LogDriver::Awsfirelens)
        .options("Name", "datadog")
        .build()
        .expect("firelens configuration");
    register(&ecs, "payments", "payments", firelens).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    logs.create_log_group()
        .log_group_name("/ecs/web-app")
        .send()
        .await
        .expect("create log group");
    let stream = format!("ecs/app/{OOM_TASK}");
    logs.create_log_stream()
        .log_group_name("/ecs/web-app")
        .log_stream_name(&stream)
        .send()
        .await
        .expect("create log stream");
    let now = lookout_shared::time::now_epoch_ms();
    let events = (0i64..).zip(OOM_LINES).map(|(i, m)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now - 10_000 + i * 1000)
            .message(m)
            .build()
            .expect("log event")
    });
    logs.put_log_events()
        .log_group_name("/ecs/web-app")
        .log_stream_name(&stream)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .expect("put log events");
}

/// The task of `events/task-alert/sidecar-exit.json`: its essential `worker` exited 1, then ECS
/// stopped its non-essential `envoy` sidecar (143).
pub const SIDECAR_TASK: &str = "9a1e2d3c4b5a49687f6e5d4c3b2a1908";

/// The lines `worker_with_sidecar` writes to each container's stream, oldest first.
pub const WORKER_LINES: [&str; 2] = ["processing batch 88213", "fatal: queue credentials rejected"];
pub const ENVOY_LINES: [&str; 1] = ["caught SIGTERM, shutting down"];

/// worker:1: `envoy` (non-essential) then `worker` (essential), both awslogs to `/ecs/worker`
/// (prefix `ecs`); each container's stream of [`SIDECAR_TASK`] holds its lines.
pub async fn worker_with_sidecar(config: &aws_config::SdkConfig) {
    let ecs = aws_sdk_ecs::Client::new(config);
    let awslogs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/worker")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .expect("awslogs configuration");
    let container = |name: &str, essential: bool| {
        ContainerDefinition::builder()
            .name(name)
            .image(format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:v2.3.1"
            ))
            .essential(essential)
            .memory(256)
            .log_configuration(awslogs.clone())
            .build()
    };
    ecs.register_task_definition()
        .family("worker")
        .container_definitions(container("envoy", false))
        .container_definitions(container("worker", true))
        .send()
        .await
        .expect("register task definition");
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    logs.create_log_group()
        .log_group_name("/ecs/worker")
        .send()
        .await
        .expect("create log group");
    let now = lookout_shared::time::now_epoch_ms();
    for (name, lines) in [("worker", &WORKER_LINES[..]), ("envoy", &ENVOY_LINES[..])] {
        let stream = format!("ecs/{name}/{SIDECAR_TASK}");
        logs.create_log_stream()
            .log_group_name("/ecs/worker")
            .log_stream_name(&stream)
            .send()
            .await
            .expect("create log stream");
        let events = (0i64..).zip(lines).map(|(i, m)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 10_000 + i * 1000)
                .message(*m)
                .build()
                .expect("log event")
        });
        logs.put_log_events()
            .log_group_name("/ecs/worker")
            .log_stream_name(&stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .expect("put log events");
    }
}
