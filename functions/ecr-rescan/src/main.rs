//! ecr-rescan: scheduled ECR rescans under BASIC scanning, Inspector reports under ENHANCED. The
//! domain is in the library (`ecr_rescan`); this only wires configuration, clients and the
//! invocation skeleton.

use ecr_rescan::{EcrRegistry, Inspector2, MemberRegistries, Rescan, RescanConfig};
use lambda_runtime::Error;
use lookout_shared::config::Env;
use lookout_shared::logging::exit_on_init_error;
use lookout_shared::member::MemberAccess;
use lookout_shared::publish::SnsPublisher;
use lookout_shared::state::{DynamoStore, StateConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lookout_shared::logging::init();
    let env = Env::from_process();
    let config = exit_on_init_error(RescanConfig::from_env(&env));
    let state = exit_on_init_error(StateConfig::from_env(&env));
    let sdk = exit_on_init_error(lookout_shared::aws::sdk_config(&env, &config.aws));
    let registry = EcrRegistry::new(aws_sdk_ecr::Client::new(&sdk));
    let inspector = Inspector2::new(aws_sdk_inspector2::Client::new(&sdk));
    let publisher = config
        .delivery
        .as_ref()
        .map(|d| SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), d.topic.clone()));
    // The DynamoDB client exists only when STATE_TABLE is set (summaries are never suppressed).
    let store = DynamoStore::from_config(&sdk, &state);
    // With ACCOUNTS: the member accounts' registries, through their reader role.
    let members = config.organisation.as_ref().map(|org| {
        let access = MemberAccess::new(&sdk, org.own.clone(), org.member.clone(), "ecr-rescan");
        MemberRegistries::new(access, &config)
    });
    let rescan = Rescan::new(config, registry, inspector, publisher)
        .with_state(store, state.suppress_window)
        .with_members(members);
    lookout_shared::invocation::run(rescan).await
}
