//! Rescan scale benchmark: ecr-rescan's BASIC path over a stub ECR endpoint holding 10,000
//! images in 100 repositories, with a fixed latency on every API call. It runs the real
//! handler and SDK client twice, side by side: with bounded concurrency, and as a sequential
//! loop (concurrency 1), and reports wall time, calls per API and scans started.
//!
//!   cargo run --release -p lookout-tests --bin rescan_scale -- [repositories] [images-per-repo] [latency-ms] [concurrency]

use aws_config::BehaviorVersion;
use ecr_rescan::config::RescanConfig;
use ecr_rescan::ecr::EcrRegistry;
use ecr_rescan::handler::Rescan;
use ecr_rescan::inspector::Inspector2;
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::invocation::{Invocation, invoke};
use lookout_shared::publish::MemoryPublisher;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counters {
    calls: HashMap<String, u64>,
    scans: HashMap<String, u64>,
}

/// An ECR JSON 1.1 endpoint: `repos` repositories of `images` tagged images each.
fn start_stub(repos: usize, images: usize, latency: Duration) -> (String, Arc<Mutex<Counters>>) {
    let counters = Arc::new(Mutex::new(Counters::default()));
    let shared = counters.clone();
    let address = lookout_tests::http::listen(move |stream| {
        lookout_tests::http::serve(stream, |request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            std::thread::sleep(latency);
            let reply = answer(&request.operation(), &body, repos, images, &shared).to_string();
            Some(lookout_tests::http::response(
                200,
                &[("Content-Type", "application/x-amz-json-1.1")],
                reply.as_bytes(),
            ))
        })
    });
    let endpoint = format!("http://{address}");
    (endpoint, counters)
}

fn answer(target: &str, request: &Value, repos: usize, images: usize, counters: &Mutex<Counters>) -> Value {
    let mut c = counters.lock().expect("counters");
    *c.calls.entry(target.to_string()).or_default() += 1;
    match target {
        "GetRegistryScanningConfiguration" => {
            json!({"registryId": "123456789012", "scanningConfiguration": {"scanType": "BASIC", "rules": []}})
        }
        "DescribeRepositories" => {
            json!({"repositories": (0..repos).map(|r| json!({"repositoryName": format!("repo-{r:03}"), "registryId": "123456789012"})).collect::<Vec<_>>()})
        }
        "DescribeImages" => {
            let repo = request["repositoryName"].as_str().unwrap_or_default().to_string();
            let details: Vec<Value> = (0..images)
                .map(|i| json!({"registryId": "123456789012", "repositoryName": repo, "imageDigest": format!("sha256:{:064x}", hash(&repo) ^ i as u64), "imageTags": [format!("v{i}")], "imagePushedAt": 1_700_000_000 + i}))
                .collect();
            json!({"imageDetails": details})
        }
        "StartImageScan" => {
            let key = format!(
                "{}@{}",
                request["repositoryName"].as_str().unwrap_or_default(),
                request["imageId"]["imageDigest"].as_str().unwrap_or_default()
            );
            *c.scans.entry(key).or_default() += 1;
            json!({"registryId": "123456789012", "repositoryName": request["repositoryName"], "imageId": request["imageId"], "imageScanStatus": {"status": "IN_PROGRESS"}})
        }
        _ => json!({}),
    }
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

async fn run(
    repos: usize,
    images: usize,
    latency: Duration,
    concurrency: usize,
) -> (Duration, Value, Counters) {
    let (endpoint, counters) = start_stub(repos, images, latency);
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .http_client(lookout_shared::aws::https_client())
        .load()
        .await;
    let env = Env::from_pairs([
        ("SCAN_CONCURRENCY", concurrency.to_string()),
        ("SCAN_RATE_PER_SECOND", "1000".to_string()),
        ("METRICS_ENABLED", "false".to_string()),
    ]);
    let config = RescanConfig::from_env(&env).expect("config");
    let rescan = Rescan::new(
        config,
        EcrRegistry::new(aws_sdk_ecr::Client::new(&sdk)),
        Inspector2::new(aws_sdk_inspector2::Client::new(&sdk)),
        None::<MemoryPublisher>,
    );
    let started = Instant::now();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(3600)), "bench");
    let summary = invoke(&rescan, json!({}), &mut ctx).await.expect("run");
    let summary = serde_json::to_value(summary).expect("summary");
    let elapsed = started.elapsed();
    let counters = std::mem::take(&mut *counters.lock().expect("counters"));
    (elapsed, summary, counters)
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (repos, images, latency_ms, concurrency) = (arg(1, 100), arg(2, 100), arg(3, 20), arg(4, 16));
    let latency = Duration::from_millis(latency_ms as u64);
    println!(
        "Stub ECR: {repos} repositories × {images} images = {} images, {latency_ms} ms per API call.",
        repos * images
    );
    let mut results = Vec::new();
    for c in [concurrency, 1] {
        let (elapsed, summary, counters) = run(repos, images, latency, c).await;
        let mut calls: Vec<_> = counters.calls.iter().collect();
        calls.sort();
        let duplicate_scans = counters.scans.values().filter(|n| **n > 1).count();
        println!(
            "\nconcurrency {c:>2}: {:>8.2} s   started {}   distinct images scanned {}   scanned twice {duplicate_scans}",
            elapsed.as_secs_f64(),
            summary["outcomes"]["started"],
            counters.scans.len(),
        );
        for (api, n) in calls {
            println!("  {api:<34} {n:>6} calls");
        }
        results.push(elapsed);
    }
    println!(
        "\nspeed-up over the sequential loop: {:.1}× (budget ≥ 10×)",
        results[1].as_secs_f64() / results[0].as_secs_f64()
    );
}
