#!/usr/bin/env bash
# The deploy path's build, offline: `sam build` exactly as before `sam deploy` (samconfig.toml,
# cargo-lambda + zig, release profile, one arm64 `bootstrap` per function), then checks that every
# function in template.yaml got an arm64 ELF bootstrap.
#
# Speed: SAM's rust-cargolambda workflow honours CARGO_TARGET_DIR (aws-lambda-builders
# rust_cargo/cargo_lambda.py), so its release arm64 build goes to one directory per user and
# machine, outside the checkout: a second run, in any clone, recompiles only Lookout's own crates
# and relinks. The build inputs (profile, target, flags) are unchanged, so is what SAM ships.
# Override the directory with LOOKOUT_SAM_TARGET_DIR. About 0.7 GB (docs/development.md).
#
# SAM builds the functions one after another (samconfig.toml says why), and each release link
# (fat LTO, one codegen unit) uses one core. So one cargo run first builds every function's
# bootstrap with SAM's own command line, linking two at a time; SAM's per-function runs then find
# them fresh and only copy them. If they were not fresh, SAM would simply build them again.
#
# Output: SAM's own lines as they come, a progress line every 30 s (cargo-lambda's progress goes
# to a buffer SAM prints only on failure), and the full log in .aws-sam/sam-build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lookout"
export CARGO_TARGET_DIR="${LOOKOUT_SAM_TARGET_DIR:-$cache/sam-target}"
# cargo-lambda links through zig wrappers that name the cargo-lambda binary by its path, and cargo
# rebuilds every crate when the linker changes: run a copy at a path fixed per machine, not the
# one in this clone's .venv, or each clone would recompile everything.
mkdir -p "$cache/bin"
if ! cmp -s .venv/bin/cargo-lambda "$cache/bin/cargo-lambda"; then
  cp .venv/bin/cargo-lambda "$cache/bin/.cargo-lambda.$$" && mv -f "$cache/bin/.cargo-lambda.$$" "$cache/bin/cargo-lambda"
fi
export PATH="$cache/bin:$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
mkdir -p "$CARGO_TARGET_DIR" .aws-sam
log=.aws-sam/sam-build.log
deps="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release/deps"
echo "   target dir $CARGO_TARGET_DIR"

# The template's rust-cargolambda functions and their binaries.
functions=() binaries=()
while read -r fn bin; do
  functions+=("$fn") binaries+=("$bin")
done < <(awk '/^  [A-Za-z0-9]+:$/ { name = substr($1, 1, length($1) - 1) }
              /BuildMethod: rust-cargolambda/ { want = 1 }
              want && /Binary:/ { print name, $2; want = 0 }' template.yaml)
[ "${#functions[@]}" -gt 0 ] || { echo "no rust-cargolambda function found in template.yaml" >&2; exit 1; }

start=$SECONDS
stamp="$CARGO_TARGET_DIR/.sam-build-started"
touch "$stamp"
progress() {
  while sleep 30 </dev/null >/dev/null 2>&1; do   # the sleep must not hold the output pipe open
    local units
    units="$(find "$deps" -maxdepth 1 -name '*.rlib' -newer "$stamp" 2>/dev/null | wc -l)"
    printf '   ... %dm%02ds, %s crates compiled for arm64 so far\n' \
      $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$units"
  done
}
progress &
progress_pid=$!
trap 'kill "$progress_pid" 2>/dev/null || true' EXIT

# SAM's command (aws-lambda-builders rust_cargo/actions.py, build_command): release, arm64,
# `--bin NAME`; here with every name at once.
prebuild=.aws-sam/cargo-lambda-build.log
echo "   cargo lambda build --release --arm64 (${binaries[*]})"
if ! cargo lambda build --release --arm64 "${binaries[@]/#/--bin=}" >"$prebuild" 2>&1; then
  echo "cargo lambda build failed; the last lines of $prebuild:" >&2
  tail -n 40 "$prebuild" >&2
  exit 1
fi
printf '   built in %dm%02ds; now sam build\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))

# Keep what a reader needs: which function is building and the result. The rest (beta-feature
# notice, ANSI resets, "Commands you can use next") stays in the log.
set +e
sam build 2>&1 | tee "$log" | sed -u 's/\x1b\[[0-9;]*m//g' \
  | grep --line-buffered -e '^Building codeuri' -e '^Build Succeeded' -e '^Build Failed' -e 'Error' \
  | sed -u -e 's/^Building codeuri: [^ ]* runtime: [^ ]* architecture: \([^ ]*\) functions: \(.*\)/building \2 (\1)/' -e 's/^/   /'
sam_status=${PIPESTATUS[0]}
set -e
kill "$progress_pid" 2>/dev/null || true
if [ "$sam_status" != 0 ] || ! grep -q '^Build Succeeded' "$log"; then
  echo "sam build failed (exit $sam_status); the last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
printf '   sam build took %dm%02ds\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))

# Every rust-cargolambda function of the template has an arm64 bootstrap.
for fn in "${functions[@]}"; do
  bootstrap=".aws-sam/build/${fn}/bootstrap"
  [ -f "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  arch="$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')"   # ELF e_machine, little-endian
  [ "$arch" = "b700" ] || { echo "$bootstrap is not an arm64 ELF (e_machine $arch)" >&2; exit 1; }
  printf '   %-18s arm64 bootstrap, %s bytes\n' "$fn" "$(stat -c %s "$bootstrap")"
done
