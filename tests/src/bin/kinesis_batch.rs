//! Kinesis batch benchmark (issue 23): one full batch of an organisation's stream (as many
//! records as fit Lambda's 6 MB invocation payload; records of 100 to 1,000 events, from
//! `accounts` accounts with `groups` log groups each) through the release log-alert binary, and
//! the same records as direct subscription deliveries (one invocation each, one warm process),
//! both with the state table on. The AWS endpoint is the stub, answering at once or after a
//! fixed latency per DynamoDB and SNS call. It reports wall time, peak RSS (VmHWM), SNS Publish
//! and DynamoDB calls. A tool, not a test: it prints figures.
//!
//!   CARGO_TARGET_DIR=/work/release-target cargo build --release -p log-alert -p lookout-tests --bins
//!   CARGO_TARGET_DIR=/work/release-target cargo run --release -p lookout-tests --bin kinesis_batch -- \
//!       [accounts=50] [groups-per-account=3] [rounds=3] [dynamodb-ms=10] [sns-ms=30] [batch-size=all]

use lookout_tests::aws_stub::AwsStub;
use lookout_tests::events::awslogs_event;
use lookout_tests::kinesis::{StreamRecord, lambda_event};
use lookout_tests::runtime_api::{Function, Outcome};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lambda's invocation payload limit (6 MB), less room for the envelope's last bytes.
const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024 - 4 * 1024;
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/lookout-logs";
/// 2025-11-25T18:00:00Z.
const T0: i64 = 1_764_093_600_000;

/// One record of the organisation's stream: whose, and its gzip payload.
struct Record {
    payload: Vec<u8>,
    events: usize,
}

/// xorshift64*: the same batch every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn account(i: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + i as u64 * 1_111)
}

const GROUPS: [&str; 6] = [
    "/ecs/web",
    "/ecs/payments-api",
    "/ecs/search",
    "/ecs/batch-jobs",
    "/aws/lambda/orders",
    "/ecs/gateway",
];

/// A storm's lines: a few shapes per log group, numbers and ids varying, some lines below
/// ERROR (the subscription filter lets WARN through too).
fn line(rng: &mut Rng, group: usize, n: u64) -> String {
    let id = rng.next();
    match (group + rng.below(6) as usize) % 6 {
        0 => format!(
            "2025-11-25T18:00:{:02}.{:03}Z ERROR request {id:016x} to 10.0.{}.{}:8443 failed: connection reset after {} ms",
            n % 60,
            n % 1000,
            rng.below(255),
            rng.below(255),
            rng.below(5_000)
        ),
        1 => format!(
            "{{\"level\":\"error\",\"ts\":\"2025-11-25T18:00:{:02}Z\",\"msg\":\"payment {} failed: card declined\",\"trace\":\"1-{id:08x}-{:024x}\"}}",
            n % 60,
            rng.below(1_000_000),
            rng.next()
        ),
        2 => format!(
            "2025-11-25T18:00:{:02}Z WARN slow query took {} ms on shard {}",
            n % 60,
            rng.below(9_000),
            rng.below(16)
        ),
        3 => format!(
            "E1125 18:00:{:02}.{:06} 1 controller.go:{}] reconcile {id:x} failed: context deadline exceeded",
            n % 60,
            rng.below(1_000_000),
            rng.below(900)
        ),
        4 => format!(
            "2025-11-25T18:00:{:02}Z FATAL worker {} crashed: out of memory (limit 512 MiB)",
            n % 60,
            rng.below(64)
        ),
        _ => format!(
            "Traceback (most recent call last):\n  File \"/app/jobs/export.py\", line {}, in run\n    rows = fetch(batch_id={})\nTimeoutError: read timed out after {} s",
            rng.below(400),
            rng.below(100_000),
            rng.below(60)
        ),
    }
}

/// One subscription payload of `events` lines from `account`'s `group`, gzip.
fn payload(rng: &mut Rng, account: &str, group: usize, first_id: u64, events: usize) -> Vec<u8> {
    let log_events: Vec<Value> = (0..events as u64)
        .map(|i| {
            json!({
                "id": format!("{:056}", first_id + i),
                "timestamp": T0 + (first_id + i) as i64,
                "message": line(rng, group, first_id + i),
            })
        })
        .collect();
    let message = json!({
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": GROUPS[group % GROUPS.len()],
        "logStream": format!("app/app/{:032x}", rng.below(4)),
        "subscriptionFilters": ["lookout-organisation"],
        "policyLevel": "ACCOUNT_LEVEL_POLICY",
        "logEvents": log_events,
    });
    lookout_tests::events::gzip(message.to_string().as_bytes())
}

/// Records in the order a shard would hold them, until the next one would not fit 6 MB, or
/// `limit` of them (the event source mapping's BatchSize).
fn batch(accounts: usize, groups: usize, limit: usize) -> Vec<Record> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    let mut bytes = 16;
    let mut next_id = 38_000_000_000u64;
    while out.len() < limit {
        let account = account(rng.below(accounts as u64) as usize);
        let group = rng.below(groups as u64) as usize;
        let events = 100 + rng.below(901) as usize;
        let payload = payload(&mut rng, &account, group, next_id, events);
        next_id += events as u64;
        // base64 of the payload and the record's envelope (about 500 bytes).
        let size = payload.len().div_ceil(3) * 4 + 500;
        if bytes + size > MAX_EVENT_BYTES {
            break;
        }
        bytes += size;
        out.push(Record { payload, events });
    }
    out
}

fn kinesis_event(records: &[Record]) -> Vec<u8> {
    let stream: Vec<StreamRecord> = records
        .iter()
        .enumerate()
        .map(|(i, r)| StreamRecord {
            sequence_number: format!(
                "{}",
                49_658_123_456_789_012_345_678_901_234_567_890_000u128 + i as u128 * 10
            ),
            partition_key: format!("{:032x}", i * 7_919),
            data: r.payload.clone(),
            arrival: 1_764_093_600.0 + i as f64 * 0.01,
        })
        .collect();
    lambda_event(STREAM_ARN, &stream).to_string().into_bytes()
}

/// The release binary: `LOOKOUT_BIN_DIR`, else beside this one (`target/release`).
fn log_alert_binary() -> PathBuf {
    let dir = std::env::var_os("LOOKOUT_BIN_DIR").map_or_else(
        || {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(PathBuf::from))
                .unwrap_or_default()
        },
        PathBuf::from,
    );
    let binary = dir.join("log-alert");
    assert!(
        binary.exists(),
        "{} is missing: cargo build --release -p log-alert",
        binary.display()
    );
    binary
}

/// The AWS endpoint: answers every call, after the latency given per service.
struct Aws(AwsStub);

impl Aws {
    fn start(dynamodb: Duration, sns: Duration) -> Self {
        Self(AwsStub::with_latency(move |operation| {
            if operation == "Publish" { sns } else { dynamodb }
        }))
    }

    fn calls(&self) -> (u64, u64) {
        (self.0.publishes(), self.0.calls("UpdateItem"))
    }
}

fn spawn(aws: &Aws, accounts: usize) -> Function {
    let names: serde_json::Map<String, Value> = (0..accounts)
        .map(|i| (account(i), Value::from(format!("team-{i:02}-prod"))))
        .collect();
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", aws.0.endpoint.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        (
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts".into(),
        ),
        ("STATE_TABLE", "lookout-state".into()),
        ("FUNCTION_TIMEOUT_SECONDS", "900".into()),
        ("ACCOUNT_NAMES", Value::Object(names).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Function::spawn(&log_alert_binary(), &env)
}

/// Time from enqueueing an event to the function's answer, which must be a response.
fn timed(f: &Function, event: &[u8]) -> (Duration, Value) {
    let started = Instant::now();
    let id = f.api.enqueue(event, Duration::from_secs(890));
    let Some((outcome, at)) = f.api.wait(&id, Duration::from_secs(900)) else {
        panic!("no answer; the function wrote:\n{}", f.output().join("\n"))
    };
    match outcome {
        Outcome::Response(v) => (at - started, v),
        Outcome::Error {
            error_type,
            error_message,
        } => panic!("{error_type}: {error_message}"),
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    seconds: f64,
    rss_mb: f64,
    publishes: u64,
    updates: u64,
}

/// One full batch through one fresh process (a small batch first, so the figure is warm).
fn kinesis(records: &[Record], accounts: usize, latency: (Duration, Duration)) -> Figures {
    let aws = Aws::start(latency.0, latency.1);
    let function = spawn(&aws, accounts);
    let warm = kinesis_event(&records[..1]);
    timed(&function, &warm);
    let (before_publishes, before_updates) = aws.calls();
    let (took, response) = timed(&function, &kinesis_event(records));
    assert_eq!(
        response,
        json!({"batchItemFailures": []}),
        "every record delivered"
    );
    let (publishes, updates) = aws.calls();
    Figures {
        seconds: took.as_secs_f64(),
        rss_mb: function.peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
        publishes: publishes - before_publishes,
        updates: updates - before_updates,
    }
}

/// The same records as direct deliveries, one invocation each, in one warm process: the sum of
/// their durations (what Lambda bills; it would run them side by side).
fn direct(records: &[Record], accounts: usize, latency: (Duration, Duration)) -> Figures {
    let aws = Aws::start(latency.0, latency.1);
    let function = spawn(&aws, accounts);
    let events: Vec<Vec<u8>> = records
        .iter()
        .map(|r| awslogs_event(&r.payload).to_string().into_bytes())
        .collect();
    timed(&function, &events[0]);
    let (before_publishes, before_updates) = aws.calls();
    let mut total = Duration::ZERO;
    for event in &events {
        let (took, response) = timed(&function, event);
        assert_eq!(response["status"], "published", "{response}");
        total += took;
    }
    let (publishes, updates) = aws.calls();
    Figures {
        seconds: total.as_secs_f64(),
        rss_mb: function.peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
        publishes: publishes - before_publishes,
        updates: updates - before_updates,
    }
}

fn median(mut v: Vec<Figures>) -> Figures {
    v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    v[v.len() / 2]
}

fn print(label: &str, f: Figures) {
    println!(
        "{label:<44} {:>8.3} s   peak RSS {:>6.1} MB   SNS Publish {:>4}   DynamoDB UpdateItem {:>5}",
        f.seconds, f.rss_mb, f.publishes, f.updates
    );
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (accounts, groups, rounds) = (arg(1, 50), arg(2, 3), arg(3, 3));
    let latency = (
        Duration::from_millis(arg(4, 10) as u64),
        Duration::from_millis(arg(5, 30) as u64),
    );
    let mut records = batch(accounts, groups, arg(6, usize::MAX));
    // The estimate above is close; the event itself decides.
    while kinesis_event(&records).len() > MAX_EVENT_BYTES {
        records.pop();
    }
    let events: usize = records.iter().map(|r| r.events).sum();
    let payload: usize = records.iter().map(|r| r.payload.len()).sum();
    let event_bytes = kinesis_event(&records).len();
    let pairs = {
        let mut seen = std::collections::BTreeSet::new();
        for r in &records {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(r.payload.as_slice()), &mut json)
                .expect("gzip");
            let v: Value = serde_json::from_slice(&json).expect("json");
            seen.insert((v["owner"].to_string(), v["logGroup"].to_string()));
        }
        seen.len()
    };
    println!(
        "Batch: {} records ({events} events, {:.2} MB gzip, {:.2} MB event) from {accounts} accounts × {groups} log groups: {pairs} (account, log group) pairs; {rounds} rounds, medians.",
        records.len(),
        payload as f64 / 1e6,
        event_bytes as f64 / 1e6,
    );
    for (label, latency) in [
        ("instant stub", (Duration::ZERO, Duration::ZERO)),
        ("latency", latency),
    ] {
        println!(
            "\n{label}: DynamoDB {} ms, SNS {} ms per call",
            latency.0.as_millis(),
            latency.1.as_millis()
        );
        let k = median(
            (0..rounds)
                .map(|_| kinesis(&records, accounts, latency))
                .collect(),
        );
        print("Kinesis: one invocation", k);
        let d = median((0..rounds).map(|_| direct(&records, accounts, latency)).collect());
        print(&format!("direct: {} invocations (sum)", records.len()), d);
        println!(
            "Kinesis / direct: time {:.2}×, SNS messages {:.2}×",
            k.seconds / d.seconds,
            k.publishes as f64 / d.publishes as f64
        );
    }
}
