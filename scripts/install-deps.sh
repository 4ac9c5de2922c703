#!/usr/bin/env bash
# Installs what Vylux needs to build and test on Debian or Ubuntu with rustup and Node already present.
# Each step checks first and does nothing when the tool is already there, so reruns are fast.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: GStreamer for the media pipelines, tools the tests use to check media, and
# Chromium for the browser tests.
APT_PACKAGES=(
    pkg-config libssl-dev
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools libwebp-dev
    ffmpeg webp openssl python3-pip chromium
)
missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must match the wasm-bindgen version locked in Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# PyJWT is the independent JWT implementation the token tests check against.
if ! python3 -c 'import jwt' 2>/dev/null; then
    log "installing PyJWT"
    python3 -m pip install --quiet PyJWT 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages PyJWT
fi

# s3s-fs is the real S3 server the storage and end-to-end tests start; later releases need a newer rustc.
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    log "installing s3s-fs 0.14.1"
    cargo install --quiet --locked s3s-fs@0.14.1 --features binary
fi

# npm packages: wrangler and binaryen for the edge, hls.js for the player page, playwright-core
# for the browser tests. Reinstall when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error
fi

# The edge worker's toolchain (worker-build, wrangler, binaryen) has its own installer.
if [ -f edge/setup.sh ]; then
    bash edge/setup.sh
fi
