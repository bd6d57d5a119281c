//! log-alert: the target of a CloudWatch Logs subscription filter. The domain is in the library
//! (`log_alert`); this only wires configuration, the SNS client and the invocation skeleton.

use lambda_runtime::Error;
use log_alert::{LogAlert, LogAlertConfig};
use lookout_shared::config::Env;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::publish::SnsPublisher;
use lookout_shared::state::{DynamoStore, StateConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let env = Env::from_process();
    let config = exit_on_init_error(LogAlertConfig::from_env(&env));
    let state = exit_on_init_error(StateConfig::from_env(&env));
    let sdk = exit_on_init_error(lookout_shared::aws::sdk_config(&env, &config.aws));
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), config.delivery.topic.clone());
    // The DynamoDB client exists only when STATE_TABLE is set.
    let store = DynamoStore::from_config(&sdk, &state);
    let alert = exit_on_init_error(LogAlert::new(config, publisher)).with_state(store, state.suppress_window);
    lookout_shared::invocation::run(alert).await
}
