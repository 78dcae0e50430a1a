# Sourced by the scripts: where the offline toolchain lives.
# worker-build would download wasm-bindgen, esbuild and wasm-opt from GitHub
# unless told where they are (README.md § Toolchain).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export CI="${CI:-}"
