#!/usr/bin/env bash
# Installs what building and testing the edge worker needs, skipping whatever is already there:
# the wasm32-unknown-unknown Rust target, worker-build, wasm-bindgen-cli at the version in
# Cargo.lock, and the npm packages (wrangler, binaryen) through `npm ci`.
#
# It expects rustup and Node.js 20.3 or later (wrangler 4.86.0 runs on Node 20) and installs
# neither, because both come from outside the package registries. With everything present it
# finishes in about a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION="0.8.7"
MIN_NODE_VERSION="20.3.0"

log() {
    echo "edge/setup.sh: $*"
}

fail() {
    echo "edge/setup.sh: $*" >&2
    exit 1
}

# Returns success when version $1 is at least version $2 (dotted numbers).
version_at_least() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

command -v rustup >/dev/null || fail "rustup is not installed; install it from https://rustup.rs and rerun"
command -v cargo >/dev/null || fail "cargo is not on PATH; open a new shell after installing rustup"
command -v node >/dev/null || fail "Node.js is not installed; install Node.js $MIN_NODE_VERSION or later"
command -v npm >/dev/null || fail "npm is not installed; it ships with Node.js"
node_version="$(node --version | tr -d v)"
version_at_least "$node_version" "$MIN_NODE_VERSION" ||
    fail "Node.js $node_version is too old: wrangler needs $MIN_NODE_VERSION or later"

# Rust target for the worker.
if ! rustup target list --installed | grep -qx "wasm32-unknown-unknown"; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# worker-build, which compiles the crate and writes edge/build/.
installed_worker_build="$(worker-build --version 2>/dev/null || true)"
if [ "$installed_worker_build" != "$WORKER_BUILD_VERSION" ]; then
    log "installing worker-build $WORKER_BUILD_VERSION (found: ${installed_worker_build:-none})"
    cargo install worker-build --version "$WORKER_BUILD_VERSION"
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")"
[ -n "$bindgen_version" ] || fail "Cargo.lock has no wasm-bindgen entry; run cargo generate-lockfile"
installed_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$installed_bindgen" != "$bindgen_version" ]; then
    log "installing wasm-bindgen-cli $bindgen_version (found: ${installed_bindgen:-none})"
    cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# npm packages: wrangler (with its esbuild and workerd) and binaryen's wasm-opt. npm writes
# node_modules/.package-lock.json on every install, so a newer one means the tree is current.
cd "$root"
if [ ! -x node_modules/.bin/wrangler ] || [ ! -x node_modules/.bin/wasm-opt ] ||
    [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
    log "installing npm packages"
    npm ci --no-audit --no-fund
fi

wrangler_version="$(node -p 'require("./node_modules/wrangler/package.json").version')"
log "ready: worker-build $WORKER_BUILD_VERSION, wasm-bindgen $bindgen_version, wrangler $wrangler_version"
