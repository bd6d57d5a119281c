#!/usr/bin/env bash
# The deploy path, offline: lint and validate template.yaml for each subscription mode, run
# checkov, and build every function's arm64 bootstrap with `sam build` (cargo-lambda + zig), as
# `sam deploy` would. SKIP_BUILD=1 stops before `sam build` (it compiles three release binaries).
#
# cfn-lint and `sam validate` take no parameter values, and both expand Fn::ForEach over the
# parameters' defaults: each variant is a copy of the template with other defaults
# (scripts/render-template.py). checkov does not expand Fn::ForEach, so it reads the copy with
# AWS::LanguageExtensions applied the way SAM CLI applies it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

variants=(
  "defaults|"
  "one-group|LogGroupNames=/ecs/web"
  "several-groups|LogGroupNames=/ecs/web,/ecs/api,/aws/lambda/orders-handler,/ecs/batch#nightly"
  "account-policy|AccountPolicy=true AlarmEmail=oncall@example.com EnableStateTable=false TracingMode=Active"
)
for v in "${variants[@]}"; do
  name="${v%%|*}"; read -r -a params <<<"${v#*|}"
  echo "== ${name} ${params[*]:-}"
  .venv/bin/python scripts/render-template.py "$work/$name.json" "${params[@]}"
  .venv/bin/python scripts/render-template.py "$work/$name.expanded.json" --expand "${params[@]}"
  echo "-- cfn-lint";  cfn-lint "$work/$name.json"
  echo "-- sam validate --lint"
  sam validate --lint -t "$work/$name.json" 2>&1 | grep -v -e '^$' -e 'Experimental features' -e 'aws.amazon.com/service-terms' -e '^\x1b\[0m$' -e '^\x1b\[33m$'
  echo "-- checkov"
  checkov -f "$work/$name.expanded.json" --framework cloudformation --skip-download --compact --quiet
done

[ "${SKIP_BUILD:-0}" = 1 ] && { echo "-- sam build skipped (SKIP_BUILD=1)"; exit 0; }
echo "-- sam build"; sam build --beta-features 2>&1 | grep -v -e "^\s*$" -e "Experimental features" -e "service-terms" -e "Compiling" -e "Downloaded" -e "Downloading"

for fn in LogAlertFunction EcrRescanFunction ScanAlertFunction; do
  bootstrap=".aws-sam/build/${fn}/bootstrap"
  [ -f "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  arch="$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')"   # ELF e_machine, little-endian
  [ "$arch" = "b700" ] || { echo "$bootstrap is not an arm64 ELF (e_machine $arch)" >&2; exit 1; }
  printf '   %-18s arm64 bootstrap, %s bytes\n' "$fn" "$(stat -c %s "$bootstrap")"
done
