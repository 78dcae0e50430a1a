#!/usr/bin/env bash
# Builds build/index.js + build/index_bg.wasm when any source is newer.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
out=build/index_bg.wasm
if [ -f "$out" ] && [ -f build/index.js ] && [ -z "$(find src migrations docs/openapi.json Cargo.toml Cargo.lock -newer "$out" -print -quit)" ]; then
  echo "worker build is up to date" >&2
  exit 0
fi
"$CARGO_BIN/worker-build" --release
