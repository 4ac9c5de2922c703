#!/usr/bin/env bash
# Builds the edge worker into edge/build/ (index.js and the wasm module) without network access.
#
# worker-build downloads wasm-bindgen, wasm-opt and esbuild unless WASM_BINDGEN_BIN, WASM_OPT_BIN
# and ESBUILD_BIN name them, so this script sets those to wasm-bindgen-cli from cargo and to
# wasm-opt (npm binaryen) and esbuild (from wrangler) in node_modules. Run edge/setup.sh once to install them. wrangler runs this script as
# its build command; it also works on its own from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || true)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"

fail() {
    echo "edge/build.sh: $1" >&2
    exit 1
}

# wasm-bindgen and wasm-opt take about 15 seconds even when cargo has nothing to do, so an output
# newer than every input is kept. VYLUX_EDGE_REBUILD=1 forces a build, for example after changing
# the CARGO_PROFILE_RELEASE_* settings below.
output="$root/edge/build/index_bg.wasm"
if [ -z "${VYLUX_EDGE_REBUILD:-}" ] && [ -f "$output" ] && [ -f "$root/edge/build/index.js" ]; then
    newer="$(find "$root/edge/src" "$root/common/src" "$root/edge/Cargo.toml" "$root/common/Cargo.toml" \
        "$root/Cargo.toml" "$root/Cargo.lock" "$root/edge/build.sh" -newer "$output" -print -quit)"
    if [ -z "$newer" ]; then
        echo "edge/build.sh: edge/build/ is up to date"
        exit 0
    fi
fi

command -v worker-build >/dev/null || fail "worker-build is not installed; run edge/setup.sh"
[ -n "$WASM_BINDGEN_BIN" ] || fail "wasm-bindgen is not installed; run edge/setup.sh"
[ -x "$WASM_OPT_BIN" ] || fail "$WASM_OPT_BIN is missing; run npm ci (or edge/setup.sh)"
[ -x "$ESBUILD_BIN" ] || fail "$ESBUILD_BIN is missing; run npm ci (or edge/setup.sh)"

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock, or the generated glue
# does not match the module.
locked="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")"
installed="$("$WASM_BINDGEN_BIN" --version | awk '{ print $2 }')"
if [ -n "$locked" ] && [ "$locked" != "$installed" ]; then
    fail "wasm-bindgen CLI is $installed but Cargo.lock has $locked; run: cargo install wasm-bindgen-cli --version $locked"
fi

# Size settings for this wasm build only (the workspace release profile serves the origin): one
# codegen unit with LTO and opt-level "s" make the module about 11% smaller than the defaults.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s}"
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-true}"
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-1}"
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-false}"

cd "$root/edge"
exec worker-build --release
