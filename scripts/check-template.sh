#!/usr/bin/env bash
# The deploy path, offline: lint and validate template.yaml, run checkov, and build every
# function's arm64 bootstrap with `sam build` (cargo-lambda + zig), as `sam deploy` would.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

echo "-- cfn-lint";  cfn-lint template.yaml
echo "-- sam validate --lint"; sam validate --lint 2>&1 | grep -v -e '^$' -e 'Experimental features' -e 'aws.amazon.com/service-terms' -e '^\x1b\[0m$'
echo "-- checkov";   checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
echo "-- sam build"; sam build --beta-features 2>&1 | grep -v -e "^\s*$" -e "Experimental features" -e "service-terms" -e "Compiling" -e "Downloaded" -e "Downloading"

for fn in LogAlertFunction EcrRescanFunction ScanAlertFunction; do
  bootstrap=".aws-sam/build/${fn}/bootstrap"
  [ -f "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  arch="$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')"   # ELF e_machine, little-endian
  [ "$arch" = "b700" ] || { echo "$bootstrap is not an arm64 ELF (e_machine $arch)" >&2; exit 1; }
  printf '   %-18s arm64 bootstrap, %s bytes\n' "$fn" "$(stat -c %s "$bootstrap")"
done
