#!/usr/bin/env bash
# Installs the project's Python tools into the git-ignored .venv. Idempotent: reinstalls only
# when the requirements file changed.  Usage: scripts/setup.sh [demo|ci]   (default: ci)
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
