#!/usr/bin/env bash
# The demo: no AWS account needed. Starts moto's server on loopback, creates an SNS topic with
# an SQS queue subscribed, runs the function binaries through the Lambda Runtime API with the
# sample events in events/, and prints what SNS delivered.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
cargo build --quiet --workspace --bins
exec cargo run --quiet -p lookout-tests --bin demo -- "$@"
