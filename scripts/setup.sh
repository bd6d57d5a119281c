#!/usr/bin/env bash
# Installs the project's Python tools into the git-ignored .venv. Idempotent: reinstalls only
# when the requirements files changed.  Usage: scripts/setup.sh [demo|local|ci]   (default: ci)
#   demo   moto's server (scripts/demo.sh; the tests' AWS endpoint)
#   local  demo + cargo-lambda (scripts/local.sh: the functions under the Lambda emulator)
#   ci     local + SAM CLI, cfn-lint, checkov (scripts/test.sh: template checks, sam build)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-ci}"
requirements="requirements/${profile}.txt"
[ -f "$requirements" ] || { echo "unknown profile: $profile" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-${profile}"
want="$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing $requirements into .venv (first run takes a few minutes)"
  .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
