//! scan-alert: ECR basic scan and Amazon Inspector events to notifications. The domain is in the
//! library (`scan_alert`); this only wires configuration, clients and the invocation skeleton.

use lambda_runtime::Error;
use lookout_shared::config::Env;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::member::MemberAccess;
use lookout_shared::publish::SnsPublisher;
use lookout_shared::state::{DynamoStore, StateConfig};
use scan_alert::{EcrScanFindings, ScanAlert, ScanAlertConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let env = Env::from_process();
    let config = exit_on_init_error(ScanAlertConfig::from_env(&env));
    let state = exit_on_init_error(StateConfig::from_env(&env));
    let sdk = exit_on_init_error(lookout_shared::aws::sdk_config(&env, &config.aws));
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), config.delivery.topic.clone());
    // Single-account mode reads with the function's own client; organisation mode in the
    // event's account, a member's through its reader role.
    let access = MemberAccess::new(&sdk, config.account.clone(), config.member.clone(), "scan-alert");
    let findings = EcrScanFindings::new(aws_sdk_ecr::Client::new(&sdk), access);
    // The DynamoDB client exists only when STATE_TABLE is set.
    let store = DynamoStore::from_config(&sdk, &state);
    let alert = exit_on_init_error(ScanAlert::new(config, findings, publisher))
        .with_state(store, state.suppress_window);
    lookout_shared::invocation::run(alert).await
}
