#!/usr/bin/env bash
# The main job, end to end. It installs what is missing and builds, then starts the origin
# (embedded defaults), the edge (wrangler dev) and the example backend. It processes a video with
# video:full and encryption, and prints the URL of the page that plays it.
#
# Usage: bash scripts/demo.sh [VIDEO_FILE]
# Without a file, a 12-second test clip is generated with ffmpeg. The services keep running
# until Ctrl-C. Ports: origin 3000, edge 8787, backend 8080 (override with ORIGIN_PORT,
# EDGE_PORT, DEMO_PORT). State lives in $VYLUX_DEMO_DIR (default ~/.cache/vylux/demo).
set -euo pipefail

cd "$(dirname "$0")/.."
root="$(pwd)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vylux/target}"
ORIGIN_PORT="${ORIGIN_PORT:-3000}"
EDGE_PORT="${EDGE_PORT:-8787}"
DEMO_PORT="${DEMO_PORT:-8080}"
DEMO_DIR="${VYLUX_DEMO_DIR:-$HOME/.cache/vylux/demo}"

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

video="${1:-}"
if [ -n "$video" ] && [ ! -f "$video" ]; then
    fail "video file $video not found"
fi

bash scripts/install-deps.sh
log "building vylux"
cargo build --quiet -p vylux-origin --locked
vylux="$CARGO_TARGET_DIR/debug/vylux"

for port in "$ORIGIN_PORT" "$EDGE_PORT" "$DEMO_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        fail "port $port on 127.0.0.1 is already in use; stop what runs there or set ORIGIN_PORT, EDGE_PORT, DEMO_PORT"
    fi
done

mkdir -p "$DEMO_DIR/data/source/uploads" "$DEMO_DIR/logs"
if [ ! -f "$DEMO_DIR/secrets.env" ]; then
    log "generating secrets in $DEMO_DIR/secrets.env"
    (umask 077 && "$vylux" keygen > "$DEMO_DIR/secrets.env")
fi
set -a
# shellcheck disable=SC1091
. "$DEMO_DIR/secrets.env"
set +a

# wrangler dev reads the edge's secrets from .dev.vars (ignored by git).
(umask 077 && printf 'HMAC_SECRET=%s\nKEY_TOKEN_SECRET=%s\n' "$HMAC_SECRET" "$KEY_TOKEN_SECRET" > .dev.vars)

if [ -z "$video" ]; then
    video="$DEMO_DIR/demo-clip.mp4"
    if [ ! -f "$video" ]; then
        log "generating a 12-second test clip"
        ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
            -t 12 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$video"
    fi
fi
name="$(basename "$video")"
hash="demo-$(sha256sum "$video" | cut -c1-12)"
source_key="uploads/$name"
cp "$video" "$DEMO_DIR/data/source/$source_key"

# Each service runs in its own session (setsid), so stopping it stops every process it started too:
# wrangler runs node, workerd and esbuild below it.
pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
    local url="$1" name="$2" log_file="$3"
    for _ in $(seq 1 180); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        sleep 1
    done
    tail -n 30 "$log_file" >&2 || true
    fail "$name did not start; its log is $log_file"
}

log "starting the origin on 127.0.0.1:$ORIGIN_PORT"
HOST=127.0.0.1 PORT="$ORIGIN_PORT" DATA_DIR="$DEMO_DIR/data" WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-2}" \
    setsid "$vylux" serve > "$DEMO_DIR/logs/origin.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/readyz" origin "$DEMO_DIR/logs/origin.log"

log "starting the edge (wrangler dev) on 127.0.0.1:$EDGE_PORT"
WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
    setsid npx --no-install wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" --persist-to "$DEMO_DIR/wrangler" \
    --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT" > "$DEMO_DIR/logs/edge.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$EDGE_PORT/healthz" edge "$DEMO_DIR/logs/edge.log"

log "starting the example backend on 127.0.0.1:$DEMO_PORT"
DEMO_ADDRESS="127.0.0.1:$DEMO_PORT" VYLUX_API_URL="http://127.0.0.1:$ORIGIN_PORT" \
    PUBLIC_MEDIA_URL="http://127.0.0.1:$EDGE_PORT" HLS_JS_PATH="$root/node_modules/hls.js/dist/hls.min.js" \
    setsid "$vylux" demo-app > "$DEMO_DIR/logs/demo-app.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$DEMO_PORT/" backend "$DEMO_DIR/logs/demo-app.log"

log "submitting $name as $hash (video:full, encrypted)"
curl -fsS -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$DEMO_PORT/videos" \
    -d "{\"hash\":\"$hash\",\"source_key\":\"$source_key\",\"title\":\"$name\"}" > /dev/null

status=""
for _ in $(seq 1 1800); do
    status="$(curl -fsS "http://127.0.0.1:$DEMO_PORT/videos/$hash" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
    case "$status" in
        completed|failed) break ;;
    esac
    sleep 1
done
if [ "$status" != completed ]; then
    curl -fsS "http://127.0.0.1:$DEMO_PORT/videos/$hash" >&2 || true
    fail "the job ended as ${status:-unknown}; logs are in $DEMO_DIR/logs"
fi

echo
echo "Ready. Open this page in a browser to watch the encrypted stream:"
echo
echo "    http://127.0.0.1:$DEMO_PORT/watch/$hash"
echo
echo "Logs: $DEMO_DIR/logs. Press Ctrl-C to stop the origin, the edge and the backend."
wait
