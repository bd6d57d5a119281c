//! Rescan scale benchmark: ecr-rescan's BASIC path over a stub ECR endpoint (real HTTP on
//! loopback) with a fixed latency on every API call. It runs the real handler and SDK client
//! three times:
//!
//! 1. with the shipped defaults (no `SCAN_CONCURRENCY`, no `SCAN_RATE_PER_SECOND`);
//! 2. as a sequential loop (`SCAN_CONCURRENCY=1`);
//! 3. with the shipped defaults against a stub that answers `ThrottlingException` to
//!    StartImageScan above a fixed rate (a token bucket holding one second of calls), over
//!    `throttled-repositories` of the repositories.
//!
//! It reports wall time, calls per API, scans accepted per image and the accepted rate.
//!
//!   cargo run --release -p lookout-tests --bin rescan_scale -- \
//!       [repositories=100] [images-per-repo=100] [latency-ms=20] [throttle-per-second=50] [throttled-repositories=20]

use aws_config::BehaviorVersion;
use ecr_rescan::{EcrRegistry, Inspector2, Rescan, RescanConfig};
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::invocation::{Invocation, invoke};
use lookout_shared::publish::SnsPublisher;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counters {
    calls: HashMap<String, u64>,
    /// Accepted StartImageScan calls per image.
    scans: HashMap<String, u64>,
    throttled: u64,
    first_scan: Option<Instant>,
    last_scan: Option<Instant>,
}

/// StartImageScan above `per_second` is throttled: a bucket of one second of calls.
struct Bucket {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_second).min(self.per_second);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Stub {
    repos: usize,
    images: usize,
    counters: Mutex<Counters>,
    bucket: Option<Mutex<Bucket>>,
}

/// An ECR JSON 1.1 endpoint: `repos` repositories of `images` tagged images each.
fn start_stub(stub: Arc<Stub>, latency: Duration) -> String {
    let address = lookout_tests::http::listen(move |stream| {
        let stub = stub.clone();
        lookout_tests::http::serve(stream, move |request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            std::thread::sleep(latency);
            let (status, reply) = answer(&request.operation(), &body, &stub);
            Some(lookout_tests::http::response(
                status,
                &[("Content-Type", "application/x-amz-json-1.1")],
                reply.to_string().as_bytes(),
            ))
        })
    });
    format!("http://{address}")
}

fn answer(target: &str, request: &Value, stub: &Stub) -> (u16, Value) {
    let mut c = stub.counters.lock().expect("counters");
    *c.calls.entry(target.to_string()).or_default() += 1;
    let reply = match target {
        "GetRegistryScanningConfiguration" => {
            json!({"registryId": "123456789012", "scanningConfiguration": {"scanType": "BASIC", "rules": []}})
        }
        "DescribeRepositories" => {
            json!({"repositories": (0..stub.repos).map(|r| json!({"repositoryName": format!("repo-{r:03}"), "registryId": "123456789012"})).collect::<Vec<_>>()})
        }
        "DescribeImages" => {
            let repo = request["repositoryName"].as_str().unwrap_or_default().to_string();
            let details: Vec<Value> = (0..stub.images)
                .map(|i| json!({"registryId": "123456789012", "repositoryName": repo, "imageDigest": format!("sha256:{:064x}", hash(&repo) ^ i as u64), "imageTags": [format!("v{i}")], "imagePushedAt": 1_700_000_000 + i}))
                .collect();
            json!({"imageDetails": details})
        }
        "StartImageScan" => {
            if let Some(bucket) = &stub.bucket
                && !bucket.lock().expect("bucket").take()
            {
                c.throttled += 1;
                return (
                    400,
                    json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                );
            }
            let key = format!(
                "{}@{}",
                request["repositoryName"].as_str().unwrap_or_default(),
                request["imageId"]["imageDigest"].as_str().unwrap_or_default()
            );
            *c.scans.entry(key).or_default() += 1;
            let now = Instant::now();
            c.first_scan.get_or_insert(now);
            c.last_scan = Some(now);
            json!({"registryId": "123456789012", "repositoryName": request["repositoryName"], "imageId": request["imageId"], "imageScanStatus": {"status": "IN_PROGRESS"}})
        }
        _ => json!({}),
    };
    (200, reply)
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

async fn run(stub: Arc<Stub>, latency: Duration, settings: &[(&str, String)]) -> (Duration, Value, Counters) {
    let endpoint = start_stub(stub.clone(), latency);
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .http_client(lookout_shared::aws::https_client())
        .load()
        .await;
    let mut env = vec![("METRICS_ENABLED", "false".to_string())];
    env.extend(settings.iter().cloned());
    let config = RescanConfig::from_env(&Env::from_pairs(env)).expect("config");
    let rescan = Rescan::new(
        config,
        EcrRegistry::new(aws_sdk_ecr::Client::new(&sdk)),
        Inspector2::new(aws_sdk_inspector2::Client::new(&sdk)),
        // No topic: the summary is returned, never published.
        None::<SnsPublisher>,
    );
    let started = Instant::now();
    // Lambda's longest timeout.
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(900)), "bench");
    // Decoded as the runtime would, so this follows the function's event type.
    let event = serde_json::from_value(json!({})).expect("the empty event decodes");
    let summary = match invoke(&rescan, event, &mut ctx).await {
        Ok(summary) => serde_json::to_value(summary).expect("summary"),
        Err(e) => json!({"error": e.to_string()}),
    };
    let elapsed = started.elapsed();
    let counters = std::mem::take(&mut *stub.counters.lock().expect("counters"));
    (elapsed, summary, counters)
}

fn report(label: &str, elapsed: Duration, summary: &Value, counters: &Counters) {
    let mut calls: Vec<_> = counters.calls.iter().collect();
    calls.sort();
    let twice = counters.scans.values().filter(|n| **n > 1).count();
    println!(
        "\n{label}: {:>8.2} s   started {}   failed {}   distinct images scanned {}   scanned twice {twice}",
        elapsed.as_secs_f64(),
        summary["outcomes"]["started"],
        summary["outcomes"]["failed"].as_u64().unwrap_or(0),
        counters.scans.len(),
    );
    for (api, n) in calls {
        println!("  {api:<34} {n:>6} calls");
    }
    if counters.throttled > 0 {
        let accepted: u64 = counters.scans.values().sum();
        let span = match (counters.first_scan, counters.last_scan) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        println!(
            "  throttled StartImageScan attempts   {:>6}\n  accepted scans per second           {:>9.1}",
            counters.throttled,
            accepted.saturating_sub(1) as f64 / span.max(f64::EPSILON)
        );
    }
    if let Some(error) = summary.get("error") {
        println!("  error: {error}");
    }
    for note in summary["notes"].as_array().into_iter().flatten() {
        println!("  note: {}", note.as_str().unwrap_or_default());
    }
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (repos, images, latency_ms, throttle, throttled_repos) =
        (arg(1, 100), arg(2, 100), arg(3, 20), arg(4, 50), arg(5, 20));
    let latency = Duration::from_millis(latency_ms as u64);
    let stub = |repos: usize, throttle: Option<usize>| {
        Arc::new(Stub {
            repos,
            images,
            counters: Mutex::new(Counters::default()),
            bucket: throttle.map(|t| {
                Mutex::new(Bucket {
                    per_second: t as f64,
                    tokens: t as f64,
                    at: Instant::now(),
                })
            }),
        })
    };
    println!(
        "Stub ECR: {repos} repositories × {images} images = {} images, {latency_ms} ms per API call.",
        repos * images
    );
    let (defaults, summary, counters) = run(stub(repos, None), latency, &[]).await;
    report("shipped defaults", defaults, &summary, &counters);
    let (sequential, summary, counters) =
        run(stub(repos, None), latency, &[("SCAN_CONCURRENCY", "1".into())]).await;
    report("sequential loop ", sequential, &summary, &counters);
    println!(
        "\nspeed-up of the shipped defaults over the sequential loop: {:.1}× (goal ≥ 10×)",
        sequential.as_secs_f64() / defaults.as_secs_f64()
    );

    println!(
        "\nThrottling stub: StartImageScan above {throttle}/s answers ThrottlingException; {throttled_repos} repositories × {images} images = {} images.",
        throttled_repos * images
    );
    let (elapsed, summary, counters) = run(stub(throttled_repos, Some(throttle)), latency, &[]).await;
    report("shipped defaults, throttled", elapsed, &summary, &counters);
}
