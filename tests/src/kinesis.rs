//! An organisation on moto: member accounts (STS AssumeRole gives credentials that act in
//! another account id), each with log groups subscribed to a Kinesis stream of its own (moto
//! delivers CloudWatch-format gzip records into a subscribed stream on PutLogEvents, in the same
//! account only: it has no cross-account destinations), and the central stream the destinations
//! would write to, filled here with the members' records. Then Lambda's Kinesis event from what
//! `GetRecords` returns.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use serde_json::{Value, json};

/// Kinesis stream names, in every account.
const STREAM: &str = "lookout-logs";

/// One record as `GetRecords` returns it.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// Epoch seconds.
    pub arrival: f64,
}

/// A stream with one shard, in the account `config` acts in.
pub struct Stream {
    client: aws_sdk_kinesis::Client,
    pub arn: String,
    shard: String,
}

impl Stream {
    pub async fn create(config: &aws_config::SdkConfig) -> Self {
        let client = aws_sdk_kinesis::Client::new(config);
        client
            .create_stream()
            .stream_name(STREAM)
            .shard_count(1)
            .send()
            .await
            .expect("create stream");
        let description = client
            .describe_stream()
            .stream_name(STREAM)
            .send()
            .await
            .expect("describe stream")
            .stream_description
            .expect("stream description");
        let shard = description
            .shards
            .first()
            .map(|s| s.shard_id.clone())
            .expect("a shard");
        Self {
            client,
            arn: description.stream_arn,
            shard,
        }
    }

    /// Writes one record, as a CloudWatch Logs destination does.
    pub async fn put(&self, data: &[u8], partition_key: &str) -> String {
        self.client
            .put_record()
            .stream_name(STREAM)
            .data(Blob::new(data))
            .partition_key(partition_key)
            .send()
            .await
            .expect("put record")
            .sequence_number
    }

    /// Every record from the start of the shard, in order.
    pub async fn records(&self) -> Vec<StreamRecord> {
        let mut iterator = self
            .client
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(&self.shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        let mut out = Vec::new();
        while let Some(it) = iterator {
            let page = self
                .client
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .expect("get records");
            if page.records.is_empty() {
                break;
            }
            out.extend(page.records.into_iter().map(|r| {
                StreamRecord {
                    sequence_number: r.sequence_number,
                    partition_key: r.partition_key,
                    data: r.data.into_inner(),
                    arrival: r
                        .approximate_arrival_timestamp
                        .map(|t| t.as_secs_f64())
                        .unwrap_or_default(),
                }
            }));
            iterator = page.next_shard_iterator;
        }
        out
    }
}

/// A member account: its log groups subscribed to its own stream.
pub struct Member {
    pub account: String,
    logs: aws_sdk_cloudwatchlogs::Client,
    stream: Stream,
}

impl Member {
    pub async fn create(central: &aws_config::SdkConfig, account: &str) -> Self {
        let config = crate::moto::acting_in(central, account).await;
        Self {
            account: account.to_string(),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            stream: Stream::create(&config).await,
        }
    }

    /// A log group with `streams`, subscribed to the member's stream.
    pub async fn log_group(&self, group: &str, streams: &[&str]) {
        self.logs
            .create_log_group()
            .log_group_name(group)
            .send()
            .await
            .expect("create log group");
        for stream in streams {
            self.logs
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(*stream)
                .send()
                .await
                .expect("create log stream");
        }
        self.logs
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name("lookout-errors")
            .filter_pattern("")
            .destination_arn(&self.stream.arn)
            .send()
            .await
            .expect("subscribe");
    }

    /// One PutLogEvents call (moto delivers it as one record): `lines` at `t0_ms`, 1 ms apart.
    pub async fn put_log_events(&self, group: &str, stream: &str, t0_ms: i64, lines: &[&str]) {
        let events = lines.iter().zip(t0_ms..).map(|(line, t)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(t)
                .message(*line)
                .build()
                .expect("log event")
        });
        self.logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .expect("put log events");
    }

    /// What the subscription delivered, in order.
    pub async fn records(&self) -> Vec<StreamRecord> {
        self.stream.records().await
    }
}

/// Lambda's Kinesis event for `records` of the stream `arn` (shard 0), as the event source
/// mapping sends it.
pub fn lambda_event(arn: &str, records: &[StreamRecord]) -> Value {
    let region = arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    "approximateArrivalTimestamp": r.arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", r.sequence_number),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/lookout-log-alert",
                "awsRegion": region,
                "eventSourceARN": arn,
            })
        })
        .collect();
    json!({"Records": records})
}

/// The records from `sequence_number` on: what Lambda delivers after it checkpointed before it.
pub fn from_sequence(records: &[StreamRecord], sequence_number: &str) -> Vec<StreamRecord> {
    // Decimal strings of up to 128 digits: compared as numbers, by length first.
    let number = |s: &str| {
        let digits = s.trim_start_matches('0');
        (digits.len(), digits.to_string())
    };
    records
        .iter()
        .filter(|r| number(&r.sequence_number) >= number(sequence_number))
        .cloned()
        .collect()
}
