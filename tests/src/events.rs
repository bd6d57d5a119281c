//! Builders for CloudWatch Logs subscription events.

use base64::Engine;
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use std::io::Write;

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Wraps raw bytes as `{"awslogs": {"data": base64(bytes)}}`.
pub fn awslogs_event(data_bytes: &[u8]) -> Value {
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(data_bytes)}})
}

/// A subscription event from a decoded message: JSON → gzip → base64.
pub fn subscription_event(message: &Value) -> Value {
    awslogs_event(&gzip(message.to_string().as_bytes()))
}

/// A DATA_MESSAGE with the given (timestamp, message) events.
pub fn data_message(log_group: &str, events: impl IntoIterator<Item = (i64, String)>) -> Value {
    let log_events: Vec<Value> = events
        .into_iter()
        .enumerate()
        .map(|(i, (ts, m))| json!({"id": format!("{:056}", 38_000_000 + i), "timestamp": ts, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "app/app/0123456789abcdef",
        "subscriptionFilters": ["lookout-errors"],
        "logEvents": log_events,
    })
}

/// A subscription event of `lines` from /ecs/payments at minute `minute` of a fixed hour:
/// distinct minutes, distinct payloads (distinct idempotency keys).
pub fn payments_batch(minute: i64, lines: &[&str]) -> Value {
    let t0 = 1_764_151_200_000 + minute * 60_000;
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (t0 + i as i64, l.to_string()));
    subscription_event(&data_message("/ecs/payments", events))
}

/// Reads back `awslogs.data` of an event file, for tests that compare against the source.
pub fn decode_event(event: &Value) -> Value {
    let data = event["awslogs"]["data"].as_str().expect("awslogs.data");
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut out).expect("gzip");
    serde_json::from_slice(&out).expect("json")
}
