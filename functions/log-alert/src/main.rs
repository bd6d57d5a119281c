//! log-alert: the target of a CloudWatch Logs subscription filter. See `lookout_shared::logs`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::logs::alert::{LogAlert, LogAlertConfig};
use lookout_shared::publish::SnsPublisher;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let config = exit_on_init_error(LogAlertConfig::from_env(&Env::from_process()));
    let sdk = exit_on_init_error(lookout_shared::aws::load_sdk_config(&config.aws).await);
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), config.delivery.topic.clone());
    let alert = exit_on_init_error(LogAlert::new(config, publisher));
    let alert = &alert;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        alert
            .handle(event.payload, Deadline::from_epoch_ms(event.context.deadline))
            .await
    }))
    .await
}
