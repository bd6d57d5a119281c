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
