#!/usr/bin/env bash
# The template, offline: lint and validate template.yaml and run checkov. The build that
# `sam deploy` ships is scripts/sam-build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

echo "-- cfn-lint";  cfn-lint template.yaml
echo "-- sam validate --lint"; sam validate --lint 2>&1 | grep -v -e '^$' -e 'Experimental features' -e 'aws.amazon.com/service-terms' -e '^\x1b\[0m$'
echo "-- checkov";   checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
