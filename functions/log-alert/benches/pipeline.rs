//! log-alert's pipeline under criterion: decode (base64 + capped inflate + borrowed JSON) next
//! to raw inflate of the same bytes, rendering (redaction, storm grouping, fitting to SNS), and
//! the whole handler with an in-memory publisher. Inputs are generated here: plain text, JSON
//! logs and multibyte text, small, 256 KB and ~2 MB decompressed.
//!
//! `cargo bench -p log-alert --bench pipeline` prints, after criterion's report, the decode
//! pipeline's throughput as a share of raw inflate's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark: fail loudly

use base64::Engine;
use criterion::{BenchmarkId, Criterion, Throughput};
use log_alert::{LogAlert, LogAlertConfig, Prepared};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Invocation, invoke};
use lookout_shared::metrics::Metrics;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Json,
    Multibyte,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Json => "json",
            Kind::Multibyte => "multibyte",
        }
    }

    fn line(self, i: usize) -> String {
        match self {
            Kind::Plain => format!(
                "2025-11-25 18:00:{:02}.{:03} ERROR [worker-{}] c.e.orders.Checkout - payment provider timed out after {} ms (order {}, trace {:016x}) token={:08x}",
                i % 60,
                i % 1000,
                i % 16,
                1000 + i % 4000,
                100_000 + i,
                i * 2654435761,
                i
            ),
            Kind::Json => json!({
                "time": format!("2025-11-25T18:00:{:02}.{:03}Z", i % 60, i % 1000),
                "level": if i.is_multiple_of(50) { "fatal" } else { "error" },
                "msg": "order validation failed",
                "orderId": format!("{:08x}-7d4a-4b8e-9f10-{:012x}", i, i * 7919),
                "error": format!("sku {} not found in warehouse {}", i % 997, i % 13),
            })
            .to_string(),
            Kind::Multibyte => format!(
                "ERROR 注文 {} の決済に失敗しました — Überweisung fehlgeschlagen, платёж отклонён ({} мс) 🚨 réessai n°{}",
                i,
                i % 5000,
                i % 7
            ),
        }
    }
}

/// A DATA_MESSAGE of about `target` decompressed bytes (at most 10,000 events, as CloudWatch).
fn batch(kind: Kind, target: usize) -> Vec<u8> {
    let mut events = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < target && i < 10_000 {
        let message = kind.line(i);
        size += message.len() + 90;
        events.push(json!({"id": format!("{:056}", 38_000_000_000usize + i), "timestamp": 1_764_093_600_000i64 + i as i64, "message": message}));
        i += 1;
    }
    json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/orders-api",
        "logStream": "orders/orders-api/9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5b", "subscriptionFilters": ["lookout-errors"],
        "logEvents": events,
    })
    .to_string()
    .into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

const SIZES: [(&str, usize); 3] = [("small", 2_000), ("256KB", 256 << 10), ("2MB", 2 << 20)];
const KINDS: [Kind; 3] = [Kind::Plain, Kind::Json, Kind::Multibyte];

fn inputs() -> Vec<(String, Vec<u8>, Vec<u8>, String)> {
    let mut out = Vec::new();
    for kind in KINDS {
        for (size_name, target) in SIZES {
            let json = batch(kind, target);
            let gz = gzip(&json);
            let data = base64::engine::general_purpose::STANDARD.encode(&gz);
            out.push((format!("{}/{size_name}", kind.name()), json, gz, data));
        }
    }
    out
}

fn benches(c: &mut Criterion) {
    let inputs = inputs();
    let mut decode_group = c.benchmark_group("decode");
    for (name, json, gz, data) in &inputs {
        decode_group.throughput(Throughput::Bytes(json.len() as u64));
        decode_group.bench_with_input(BenchmarkId::new("inflate", name), gz, |b, gz| {
            let mut out = Vec::with_capacity(json.len());
            b.iter(|| {
                out.clear();
                flate2::read::GzDecoder::new(gz.as_slice())
                    .read_to_end(&mut out)
                    .unwrap();
                out.len()
            })
        });
        decode_group.bench_with_input(BenchmarkId::new("pipeline", name), data, |b, data| {
            let mut out = Vec::new();
            b.iter(|| {
                log_alert::decompress(data, log_alert::DEFAULT_MAX_DECOMPRESSED_BYTES, &mut out).unwrap();
                log_alert::parse(&out).unwrap().log_events.len()
            })
        });
    }
    decode_group.finish();

    let alert = LogAlert::new(LogAlertConfig::from_env(&env()).unwrap(), Noop).unwrap();
    let mut render_group = c.benchmark_group("render");
    for (name, json, _, _) in &inputs {
        let message = log_alert::parse(json).unwrap();
        render_group.throughput(Throughput::Bytes(json.len() as u64));
        render_group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| match alert.plan(&message, &mut Metrics::default()).unwrap() {
                Prepared::Publish { message, .. } => message.request_bytes(),
                Prepared::Done(_) => panic!("the inputs all publish"),
            })
        });
    }
    render_group.finish();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut handler_group = c.benchmark_group("handler");
    for (name, json, _, data) in &inputs {
        let event = json!({"awslogs": {"data": data}});
        handler_group.throughput(Throughput::Bytes(json.len() as u64));
        handler_group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let deadline = Deadline::after(Duration::from_secs(30));
                let mut ctx = Invocation::new(deadline, "bench");
                // Typed here, as the runtime does for every invocation.
                let event = Incoming::from_document(event.clone());
                runtime.block_on(invoke(&alert, event, &mut ctx)).unwrap()
            })
        });
    }
    handler_group.finish();
}

/// Publishes nowhere: the handler's own cost, without a network.
struct Noop;

impl lookout_shared::publish::Publisher for Noop {
    async fn publish(
        &self,
        _: &lookout_shared::notification::SnsMessage,
    ) -> Result<String, lookout_shared::publish::PublishError> {
        Ok("noop".into())
    }
}

fn env() -> Env {
    Env::from_pairs([
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("METRICS_ENABLED", "false"),
    ])
}

/// Criterion's mean estimate for one benchmark, in nanoseconds.
fn mean_ns(group: &str, function: &str, input: &str) -> Option<f64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/criterion")
        .join(group)
        .join(function)
        .join(input);
    let text = std::fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["mean"]["point_estimate"].as_f64()
}

fn print_ratios() {
    println!("\ndecode pipeline (base64 + capped inflate + JSON) vs raw inflate of the same bytes:");
    for kind in KINDS {
        for (size_name, _) in SIZES {
            let input = format!("{}_{size_name}", kind.name());
            let input_dir = input.replace('/', "_");
            if let (Some(inflate), Some(pipeline)) = (
                mean_ns("decode", "inflate", &input_dir),
                mean_ns("decode", "pipeline", &input_dir),
            ) {
                println!(
                    "  {:<20} pipeline {:>10.1} µs  inflate {:>10.1} µs  throughput ratio {:>5.1}%",
                    input,
                    pipeline / 1e3,
                    inflate / 1e3,
                    100.0 * inflate / pipeline
                );
            }
        }
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    benches(&mut criterion);
    criterion.final_summary();
    print_ratios();
}
