#!/usr/bin/env bash
# Every check CI runs, on a fresh machine: tools, format, lints (clippy --all-targets also
# type-checks the benches), unit, property and integration tests (on moto's server),
# the template checks and the deploy build (`sam build`, arm64). Prints each step's duration.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE

names=() secs=()
table() {
  printf '\n%-18s %8s\n' step duration
  local i total=0
  for i in "${!names[@]}"; do
    printf '%-18s %5dm%02ds\n' "${names[$i]}" $((secs[i] / 60)) $((secs[i] % 60))
    total=$((total + secs[i]))
  done
  printf '%-18s %5dm%02ds\n' total $((total / 60)) $((total % 60))
}
# Drops what tells a reader nothing: colour codes, blank lines, the progress dots and
# "running N tests" of each test binary, and the summaries of binaries without tests.
clean() {
  sed -u 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep --line-buffered -v -E \
    -e '^\s*$' -e '^running [0-9]+ tests?$' -e '^\.+( [0-9]+/[0-9]+)?$' -e '^test result: ok\. 0 passed' || true
}
step() {
  local name="$1" start=$SECONDS status
  shift
  printf '\n== %s\n' "$name"
  set +e
  "$@" 2>&1 | clean
  status=${PIPESTATUS[0]}
  set -e
  names+=("$name") secs+=($((SECONDS - start)))
  if [ "$status" != 0 ]; then
    table
    printf '\nFAILED: %s (exit %s)\n' "$name" "$status"
    exit "$status"
  fi
}

step "setup"           scripts/setup.sh ci
export PATH="$PWD/.venv/bin:$PATH"
step "format"          cargo fmt --all --check
step "clippy"          cargo clippy --quiet --workspace --all-targets -- -D warnings
# The functions and every test in one cargo run: the integration tests drive the function
# binaries through the Runtime API, and built beside the tests they share one compile of the SDK.
# Built apart, `cargo build --bins` leaves out the dev-dependency features (tokio's test-util,
# serde_json's preserve_order, from the test-only crates), and every crate above tokio and serde
# is compiled a second time: about 1m40s of a fresh clone. The binaries SAM ships are built
# without them (sam build, below).
step "build"           cargo build --quiet --workspace --bins --tests
step "tests"           cargo test --quiet --workspace
step "template"        scripts/check-template.sh
step "sam build"       scripts/sam-build.sh
table
printf '\nall checks passed\n'
