//! Cold-start and memory harness: spawns each function's release binary against the Lambda
//! Runtime API stub and an instant SNS stub, and reports init time, first-response time, warm
//! latency and peak RSS (VmHWM), next to a bare `lambda_runtime` echo binary and the Python
//! shape of log-alert, measured in the same run. A tool, not a test: it prints figures.
//!
//!   cargo build --release --workspace --bins
//!   cargo run --release -p lookout-tests --bin coldstart -- [runs]

use lookout_tests::aws_stub::AwsStub;
use lookout_tests::events::{awslogs_event, data_message, subscription_event};
use lookout_tests::runtime_api::{Function, Outcome};
use lookout_tests::workspace::root;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Subject {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

fn subjects() -> Vec<Subject> {
    // COLDSTART_BIN_DIR: measure binaries built elsewhere (a profiling build, say).
    let release =
        std::env::var_os("COLDSTART_BIN_DIR").map_or_else(|| root().join("target/release"), PathBuf::from);
    let python = root().join(".venv/bin/python");
    let mut out = vec![
        Subject {
            name: "echo (bare lambda_runtime)",
            program: release.join("echo"),
            args: vec![],
        },
        Subject {
            name: "log-alert",
            program: release.join("log-alert"),
            args: vec![],
        },
    ];
    if python.exists() {
        let script = root()
            .join("bench/python_log_alert.py")
            .to_string_lossy()
            .to_string();
        out.push(Subject {
            name: "Python shape (boto3)",
            program: python,
            args: vec![script],
        });
    }
    for s in &out {
        assert!(
            s.program.exists(),
            "{} is missing: cargo build --release --workspace --bins",
            s.program.display()
        );
    }
    out
}

fn env(sns: &AwsStub) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", sns.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    // COLDSTART_ENV="REDACT=false,MAX_LINES=10" adds settings, for experiments.
    .chain(
        std::env::var("COLDSTART_ENV")
            .unwrap_or_default()
            .split(',')
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))),
    )
    .collect()
}

fn spawn(subject: &Subject, sns: &AwsStub) -> Function {
    let args: Vec<&str> = subject.args.iter().map(String::as_str).collect();
    Function::spawn_with_args(&subject.program, &args, &env(sns))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Clone, Default)]
struct Cold {
    init: Vec<f64>,
    first: Vec<f64>,
    rss: Vec<f64>,
}

/// The median of `a[i] / b[i]`: figures taken in the same round share the machine's state.
fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| a / b).collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Time from enqueueing an event to the function's answer.
fn timed_invoke(f: &Function, event: &[u8]) -> (Duration, Outcome) {
    let started = Instant::now();
    let id = f.api.enqueue(event, Duration::from_secs(60));
    let Some((outcome, at)) = f.api.wait(&id, Duration::from_secs(120)) else {
        panic!("no answer; the function wrote:\n{}", f.output().join("\n"))
    };
    (at - started, outcome)
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let sns = AwsStub::start();
    let small = subscription_event(&data_message(
        "/ecs/web",
        (0..5).map(|i| (1_764_093_600_000 + i, format!("ERROR request {i} failed"))),
    ));
    let big = subscription_event(&data_message(
        "/ecs/intl",
        (0..10_000).map(|i| {
            (
                1_764_093_600_000 + i as i64,
                format!(
                    "ERROR 注文 {i} の決済に失敗しました — Überweisung {} fehlgeschlagen, платёж отклонён {}",
                    i * 7,
                    "é".repeat(10 + i % 40)
                ),
            )
        }),
    ));
    let big_bytes = lookout_tests::events::decode_event(&big).to_string().len();
    let bomb = awslogs_event(&{
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..512 {
            std::io::Write::write_all(&mut enc, &zeros).expect("gzip");
        }
        enc.finish().expect("gzip")
    });
    println!("Runtime API stub + instant SNS stub on loopback; {runs} cold starts each; medians.");
    println!(
        "10,000-event batch: {:.2} MB decompressed; gzip bomb: 512 MiB of zeros, {} KB of awslogs.data.\n",
        big_bytes as f64 / 1e6,
        bomb["awslogs"]["data"].as_str().map_or(0, str::len) / 1000
    );
    // Serialised once, here: inside a timed region it would be counted as the function's time.
    let [small, big, bomb] = [small, big, bomb].map(|event| event.to_string().into_bytes());

    // Every figure is taken round-robin across the subjects, so a noisy neighbour on a shared
    // machine slows them alike, and each ratio is the median of per-round ratios.
    let subjects = subjects();
    let mut cold = vec![Cold::default(); subjects.len()];
    for _ in 0..runs {
        for (subject, figures) in subjects.iter().zip(&mut cold) {
            let f = spawn(subject, &sns);
            let id = f.api.enqueue(&small, Duration::from_secs(60));
            let (outcome, at) = f.api.wait(&id, Duration::from_secs(60)).expect("first response");
            assert!(
                matches!(outcome, Outcome::Response(_)),
                "{}: {outcome:?}\n{}",
                subject.name,
                f.output().join("\n")
            );
            figures
                .init
                .push(ms(f.api.first_poll().expect("polled") - f.spawned_at));
            figures.first.push(ms(at - f.spawned_at));
            figures.rss.push(f.peak_rss_kib().unwrap_or(0) as f64 / 1024.0);
        }
    }
    for (subject, figures) in subjects.iter().zip(&cold) {
        println!(
            "{:<28} init {:>7.1} ms   first response {:>7.1} ms   peak RSS {:>6.1} MB",
            subject.name,
            median(figures.init.clone()),
            median(figures.first.clone()),
            median(figures.rss.clone())
        );
    }

    // Warm: one process per function, the batch sent to each in turn.
    let handlers: Vec<(&Subject, Function)> = subjects
        .iter()
        .filter(|s| !s.name.starts_with("echo"))
        .map(|s| {
            let f = spawn(s, &sns);
            timed_invoke(&f, &small);
            (s, f)
        })
        .collect();
    let mut warm = vec![Vec::new(); handlers.len()];
    for _ in 0..10 {
        for ((subject, f), times) in handlers.iter().zip(&mut warm) {
            let (t, outcome) = timed_invoke(f, &big);
            assert!(
                matches!(outcome, Outcome::Response(_)),
                "{}: {outcome:?}",
                subject.name
            );
            times.push(ms(t));
        }
    }
    for ((subject, f), times) in handlers.iter().zip(&warm) {
        let rss_big = f.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
        if std::env::var_os("COLDSTART_VERBOSE").is_some() {
            f.output()
                .iter()
                .filter(|l| l.contains("elapsed"))
                .for_each(|l| println!("  | {l}"));
        }
        let f = spawn(subject, &sns);
        timed_invoke(&f, &small);
        let (bomb_time, bomb_outcome) = timed_invoke(&f, &bomb);
        let rss_bomb = f.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
        let refused = match &bomb_outcome {
            Outcome::Error { error_type, .. } => format!("refused ({error_type})"),
            Outcome::Response(_) => "accepted".to_string(),
        };
        println!(
            "{:<28} warm 10k batch {:>7.1} ms (peak RSS {:>6.1} MB)   gzip bomb {} in {:>7.1} ms (peak RSS {:>6.1} MB)",
            subject.name,
            median(times.clone()),
            rss_big,
            refused,
            ms(bomb_time),
            rss_bomb
        );
    }
    drop(handlers);

    let position = |name: &str| subjects.iter().position(|s| s.name.starts_with(name));
    let warm_position = |name: &str| {
        subjects
            .iter()
            .filter(|s| !s.name.starts_with("echo"))
            .position(|s| s.name.starts_with(name))
    };
    println!();
    if let (Some(echo), Some(rust)) = (position("echo"), position("log-alert")) {
        println!(
            "log-alert cold start / echo cold start:        {:>5.2}×  (budget ≤ 2.5×)",
            paired_ratio(&cold[rust].first, &cold[echo].first)
        );
    }
    if let (Some(py), Some(rust)) = (position("Python"), position("log-alert")) {
        println!(
            "Python cold start / log-alert cold start:      {:>5.1}×",
            paired_ratio(&cold[py].first, &cold[rust].first)
        );
    }
    if let (Some(py), Some(rust)) = (warm_position("Python"), warm_position("log-alert")) {
        println!(
            "Python warm 10k batch / log-alert warm 10k:    {:>5.1}×  (budget ≥ 5×)",
            paired_ratio(&warm[py], &warm[rust])
        );
    }
    println!("SNS publishes received by the stub: {}", sns.publishes());
    for name in ["log-alert", "ecr-rescan", "scan-alert"] {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len() as f64 / 1048576.0).ok();
        let host = size(root().join("target/release").join(name));
        let arm = size(
            root()
                .join(".aws-sam/build")
                .join(sam_name(name))
                .join("bootstrap"),
        );
        println!(
            "{name:<11} release binary {}   arm64 bootstrap {}",
            host.map_or("-".into(), |s| format!("{s:.2} MiB")),
            arm.map_or("(run sam build)".into(), |s| format!("{s:.2} MiB"))
        );
    }
}

fn sam_name(binary: &str) -> &'static str {
    match binary {
        "log-alert" => "LogAlertFunction",
        "ecr-rescan" => "EcrRescanFunction",
        _ => "ScanAlertFunction",
    }
}
