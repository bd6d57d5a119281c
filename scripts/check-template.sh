#!/usr/bin/env bash
# The templates, offline: lint and validate template.yaml for each subscription mode (and for
# Mode=organisation, with an organisation or with listed accounts) and run checkov; then
# org/member.yaml, the member accounts' StackSet template (plain CloudFormation: cfn-lint and
# checkov read it as it is). The build that `sam deploy` ships is scripts/sam-build.sh.
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
  "organisation|Mode=organisation OrganizationId=o-a1b2c3d4e5 AccountNames={\"111111111111\":\"payments-prod\"} RescanAccountIds=111111111111,222222222222"
  "organisation-accounts|Mode=organisation MemberAccountIds=111111111111,222222222222 LogGroupNames=/ecs/web AlarmEmail=oncall@example.com MemberRoleName=OrgReader MemberExternalId=lookout-7f3a9c RescanAccountIds=222222222222"
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

echo "== org/member.yaml"
echo "-- cfn-lint";  cfn-lint org/member.yaml
echo "-- checkov"
checkov -f org/member.yaml --framework cloudformation --skip-download --compact --quiet
