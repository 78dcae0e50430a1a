#!/usr/bin/env bash
# Every test: lints (native and wasm32), native unit and integration tests
# on real SQLite, then the end-to-end suite against `wrangler dev` (local
# D1, local Queue, a real webhook receiver) and the scim2-tester RFC checker.
# Installs what is missing first (idempotent).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

"$ROOT/scripts/setup.sh" --with-python

step "cargo fmt --check (rustfmt.toml)"
cargo fmt --check
step "cargo clippy (native, all targets)"
cargo clippy --all-targets --quiet -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy --lib --target wasm32-unknown-unknown --quiet -- -D warnings

step "cargo test (native, real SQLite)"
cargo test --quiet

step "cargo test (native integration tests again, control and data in separate SQLite databases)"
ROLLCALL_TEST_DATABASES=split cargo test --quiet --test '*'

step "build the Worker"
"$ROOT/scripts/build-worker.sh"

step "end-to-end tests against wrangler dev"
cd "$ROOT/tests/e2e"
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
