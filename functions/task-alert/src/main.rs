//! task-alert: ECS task stops, deployment failures and retirements to alerts with the dying
//! container's last log lines. The domain is in the library (`task_alert`); this only wires
//! configuration, clients and the invocation skeleton.

use lambda_runtime::Error;
use lookout_shared::config::Env;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::member::MemberAccess;
use lookout_shared::publish::SnsPublisher;
use lookout_shared::state::DynamoStore;
use task_alert::{AwsLogSource, TaskAlert, TaskAlertConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let env = Env::from_process();
    let config = exit_on_init_error(TaskAlertConfig::from_env(&env));
    let sdk = exit_on_init_error(lookout_shared::aws::sdk_config(&env, &config.aws));
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), config.delivery.topic.clone());
    // The own account reads with the function's credentials; members through their role.
    let access = MemberAccess::new(&sdk, config.account.clone(), config.member.clone(), "task-alert");
    let logs = AwsLogSource::new(access, config.log_limits);
    let state = DynamoStore::from_config(&sdk, &config.state);
    let alert = exit_on_init_error(TaskAlert::new(config, logs, publisher)).with_state(state);
    lookout_shared::invocation::run(alert).await
}
