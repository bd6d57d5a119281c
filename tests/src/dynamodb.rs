//! The state table of issue 13 in moto, created with the contract's schema (`pk` String only,
//! TTL on `expiresAt`), and a clock tests move by hand.

use lookout_shared::state::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates the state table as the template does: on-demand, key `pk` (S), TTL `expiresAt`.
pub async fn create_state_table(config: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let client = aws_sdk_dynamodb::Client::new(config);
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("create table");
    client
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
