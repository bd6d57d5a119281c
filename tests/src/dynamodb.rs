//! The state table of issue 13 in moto, created with the contract's schema (`pk` String only,
//! TTL on `expiresAt`), and a clock tests move by hand.

use lookout_shared::state::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates the state table as the template does: on-demand, key `pk` (S), TTL `expiresAt`.
pub async fn create_state_table(config: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::TimeToLiveSpecification;
    create_table_keyed_by(config, name, "pk").await;
    aws_sdk_dynamodb::Client::new(config)
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiresAt")
                .enabled(true)
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable TTL");
}

/// An on-demand table whose only key is the String attribute `key` (a wrong one, for the tests
/// of a misconfigured table, is anything but `pk`).
pub async fn create_table_keyed_by(config: &aws_config::SdkConfig, name: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("create table");
}

/// Epoch seconds that only move when the test says so. Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn at(epoch_secs: u64) -> Self {
        Self(Arc::new(AtomicU64::new(epoch_secs)))
    }

    pub fn set(&self, epoch_secs: u64) {
        self.0.store(epoch_secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A proxy that hands moto one request at a time.
///
/// DynamoDB applies the writes to one item one after another, so of two conditional writes
/// racing on an item only one can see it absent. moto's server evaluates the condition and
/// writes without a lock, on a thread per request, so two racing requests can both pass it.
/// In front of moto this proxy restores DynamoDB's ordering; the callers still race.
#[derive(Debug)]
pub struct SerialProxy {
    pub endpoint: String,
}

impl SerialProxy {
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let one_at_a_time = Arc::new(std::sync::Mutex::new(()));
        let address = crate::http::listen(move |client| {
            crate::http::serve(client, |request| {
                let _turn = one_at_a_time
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Some(crate::fault_proxy::forward(&request, &upstream))
            })
        });
        Self {
            endpoint: format!("http://{address}"),
        }
    }
}
