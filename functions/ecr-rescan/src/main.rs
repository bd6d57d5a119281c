//! ecr-rescan: scheduled ECR rescans under BASIC scanning, Inspector reports under ENHANCED.
//! See `lookout_shared::rescan`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::publish::SnsPublisher;
use lookout_shared::rescan::config::RescanConfig;
use lookout_shared::rescan::ecr::EcrRegistry;
use lookout_shared::rescan::inspector::Inspector2;
use lookout_shared::rescan::run::Rescan;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let config = exit_on_init_error(RescanConfig::from_env(&Env::from_process()));
    let sdk = exit_on_init_error(lookout_shared::aws::load_sdk_config(&config.aws).await);
    let registry = EcrRegistry::new(aws_sdk_ecr::Client::new(&sdk));
    let inspector = Inspector2::new(aws_sdk_inspector2::Client::new(&sdk));
    let publisher = config
        .delivery
        .as_ref()
        .map(|d| SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), d.topic.clone()));
    let rescan = Rescan::new(config, registry, inspector, publisher);
    let rescan = &rescan;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        rescan
            .handle(event.payload, deadline, &event.context.request_id)
            .await
    }))
    .await
}
