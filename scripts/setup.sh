#!/usr/bin/env bash
# Installs what Rollcall needs to build, run and test, from crates.io, npm,
# PyPI and (for the browser tests) Debian's packages. Idempotent: a second
# run checks versions and returns fast.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

WORKER_BUILD_VERSION=0.8.7
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    step "rustup component add $component"
    rustup component add "$component"
  fi
done

# node_modules is current when npm's record of it is newer than the lockfile.
if [ ! -x node_modules/.bin/wrangler ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci (wrangler, esbuild, binaryen pinned by package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Check the very binaries the build uses ($CARGO_BIN, see env.sh), not
# whatever else is on PATH.
if [ "$("$CARGO_BIN/worker-build" --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  step "cargo install worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
if [ "$("$WASM_BINDGEN_BIN" --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  step "cargo install wasm-bindgen-cli $WB_VERSION"
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# Python tools for the end-to-end tests: pytest, the Standard Webhooks
# verifier and the scim2-tester compliance checker (scim2-cli).
if [ "${1:-}" = "--with-python" ]; then
  REQ=tests/e2e/requirements.txt
  if [ ! -x .venv/bin/python ] || [ ! -f .venv/.installed ] || ! cmp -s "$REQ" .venv/.installed; then
    step "python venv .venv ($REQ)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" .venv/.installed
  fi
fi

# The set-up portal's browser tests drive Debian's chromium with
# playwright-core (package.json); Playwright's own browser download cannot
# work on these machines.
if [ "${1:-}" = "--with-python" ] && ! command -v chromium >/dev/null 2>&1; then
  step "apt-get install chromium (browser tests of the set-up portal)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null
fi
