#!/usr/bin/env bash
# Every check CI runs, on a fresh machine: tools, format, lints, unit, property and
# integration tests (on moto's server), the template checks and the benchmark build.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE
scripts/setup.sh ci
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "format";           cargo fmt --all --check
step "clippy";           cargo clippy --quiet --workspace --all-targets -- -D warnings
step "build functions";  cargo build --quiet --workspace --bins
step "tests";            cargo test --quiet --workspace
step "template";         scripts/check-template.sh
step "benchmarks build"; cargo bench --quiet --workspace --no-run
echo; echo "all checks passed"
