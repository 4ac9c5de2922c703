#!/usr/bin/env bash
# Installs whatever is missing, then runs every Vylux test: the workspace natively, the common
# crate again under wasm, and the tests that drive real components.
set -euo pipefail

cd "$(dirname "$0")/.."

# A target directory outside the clone lets fresh clones reuse earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vylux/target}"
export CARGO_TERM_COLOR=never

bash scripts/install-deps.sh

echo "==> cargo test (native, whole workspace)"
cargo test --workspace --locked

echo "==> cargo test (vylux-common under wasm32, run by wasm-bindgen-test-runner in Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p vylux-common --target wasm32-unknown-unknown --locked

echo "==> building vylux and the edge worker for the tests that start them"
cargo build -p vylux-origin --locked
bash edge/build.sh
export VYLUX_BIN="$CARGO_TARGET_DIR/debug/vylux"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false

echo "==> edge tests (the worker in workerd, in front of the real origin)"
node --test --test-concurrency=1 tests/edge/

echo "==> end-to-end tests (S3 server, origin, edge, example backend, headless Chromium)"
node --test --test-concurrency=1 tests/e2e/
