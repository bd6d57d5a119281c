//! Soak harness: each function that uses the state table, warm, through thousands of
//! invocations against an instant local AWS stub; prints peak RSS after the warm-up and at the
//! end, and fails when memory grew by more than the limit. BENCHMARKS.md, "Soak".
//!
//!   cargo build --release --workspace --bins
//!   LOOKOUT_BIN_DIR=target/release cargo run --release -p lookout-tests --bin soak -- [invocations]

use lookout_tests::aws_stub::AwsStub;
use lookout_tests::soak::{FUNCTIONS, WARM_UP, soak};

/// What a warm container may gain over a run, after the warm-up.
const LIMIT_KIB: u64 = 4 * 1024;
/// Connections a pool may open or drop over a run.
const FD_SLACK: usize = 4;

fn main() {
    let invocations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let stub = AwsStub::start();
    println!("{invocations} invocations per function, STATE_TABLE on, instant local AWS stub");
    println!(
        "{:<11} {:>16} {:>18} {:>9} {:>11} {:>13}",
        "function",
        format!("peak @{WARM_UP} (MB)"),
        format!("peak @{invocations} (MB)"),
        "growth",
        "open fds",
        "UpdateItems"
    );
    let mut failed = Vec::new();
    for function in FUNCTIONS {
        let s = soak(function, invocations, &stub);
        println!(
            "{:<11} {:>16.1} {:>18.1} {:>6} KB {:>5} → {:<3} {:>13}",
            s.function,
            s.peak_after_warm_up_kib as f64 / 1024.0,
            s.peak_at_end_kib as f64 / 1024.0,
            s.growth_kib(),
            s.fds.0,
            s.fds.1,
            s.state_writes
        );
        if s.growth_kib() > LIMIT_KIB || s.fds.1 > s.fds.0 + FD_SLACK || s.state_writes == 0 {
            failed.push(function);
        }
    }
    if !failed.is_empty() {
        eprintln!(
            "grew by more than {LIMIT_KIB} KB or {FD_SLACK} descriptors, or never wrote the table: {failed:?}"
        );
        std::process::exit(1);
    }
}
