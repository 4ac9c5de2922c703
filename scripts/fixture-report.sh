#!/usr/bin/env bash
# Runs every media fixture through an encrypted video:full job on a local vylux origin and
# prints a Markdown table of the outcomes. Each finished HLS package is checked over HTTP:
# playback with and without the token, rendition durations and sizes, segment decryption, and
# upright covers of rotated phone videos. Audio-only, image and damaged files must fail with a
# clear error code.
#
# Opt-in and not part of CI: the 6-minute 1080p fixture alone takes several minutes.
#
# Usage: bash scripts/fixture-report.sh [GLOB]
#   GLOB  selects fixtures by file name, such as 'phone-*' (default: every file)
#
# Environment:
#   VYLUX_FIXTURES       fixture folder (default ../shared/fixtures, relative to the repository)
#   FIXTURE_JOB_TIMEOUT  seconds one job may run before it counts as timed out (default 3600)
#   FIXTURE_REPORT_KEEP  1 keeps the temporary folder with the buckets and the origin log
#   CARGO_TARGET_DIR     build folder (default ~/.cache/vylux/target)
#
# Exits 0 when every row is as expected, 1 otherwise (also when the folder is missing or no file
# matches). The table also goes to report.md in the temporary folder while the run goes on.
set -euo pipefail

cd "$(dirname "$0")/.."
root="$(pwd)"
filter="${1:-*}"
fixtures="${VYLUX_FIXTURES:-$root/../shared/fixtures}"

if [ ! -d "$fixtures" ]; then
    echo "fixture-report: the fixture folder $fixtures does not exist; set VYLUX_FIXTURES to the folder of media files" >&2
    exit 1
fi
fixtures="$(cd "$fixtures" && pwd)"

for tool in cargo curl ffmpeg ffprobe openssl python3; do
    if ! command -v "$tool" > /dev/null; then
        echo "fixture-report: $tool is missing; install it (scripts/install-deps.sh installs the Debian packages)" >&2
        exit 1
    fi
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vylux/target}"
echo "==> building vylux" >&2
cargo build --quiet -p vylux-origin --locked
vylux="$CARGO_TARGET_DIR/debug/vylux"

work="$(mktemp -d -t vylux-fixture-report.XXXXXX)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${FIXTURE_REPORT_KEEP:-0}" = 1 ]; then
        echo "fixture-report: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(umask 077 && "$vylux" keygen > "$work/secrets.env")
set -a
# shellcheck disable=SC1091
. "$work/secrets.env"
set +a

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data_dir="$work/data"
mkdir -p "$data_dir/source" "$data_dir/media"

# Starts the origin in the background; its output is appended to origin.log.
start_origin() {
    echo "==> starting the origin on 127.0.0.1:$port (log: $work/origin.log)" >&2
    # Unset storage and database variables so that both buckets are folders under DATA_DIR.
    env -u BASE_URL -u DATABASE_URL -u MODE \
        -u SOURCE_S3_ENDPOINT -u SOURCE_S3_ACCESS_KEY -u SOURCE_S3_SECRET_KEY -u SOURCE_S3_REGION -u SOURCE_BUCKET \
        -u MEDIA_S3_ENDPOINT -u MEDIA_S3_ACCESS_KEY -u MEDIA_S3_SECRET_KEY -u MEDIA_S3_REGION -u MEDIA_BUCKET \
        HOST=127.0.0.1 PORT="$port" DATA_DIR="$data_dir" WORKER_CONCURRENCY=1 \
        "$vylux" serve >> "$work/origin.log" 2>&1 &
    server_pid=$!

    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    tail -n 30 "$work/origin.log" >&2 || true
    echo "fixture-report: the origin did not become ready within 60 s; its log is above" >&2
    FIXTURE_REPORT_KEEP=1
    exit 1
}

# The origin may be stopped from outside during a long run (by a signal it handles with a
# graceful shutdown). Then it is restarted with the same DATA_DIR and the run resumes with the
# file in progress, at most twice. A crash ends the run.
restarts=0
status=0
while :; do
    start_origin
    status=0
    # No __pycache__ next to the helper modules in the work tree.
    PYTHONDONTWRITEBYTECODE=1 python3 "$root/scripts/fixture-report/report.py" \
        --port "$port" --data-dir "$data_dir" --vylux "$vylux" --fixtures "$fixtures" \
        --filter "$filter" --job-timeout "${FIXTURE_JOB_TIMEOUT:-3600}" \
        --output "$work/report.md" --state "$work/rows.json" || status=$?
    if [ "$status" != 3 ]; then
        break
    fi

    origin_status=0
    wait "$server_pid" || origin_status=$?
    server_pid=""
    FIXTURE_REPORT_KEEP=1
    if [ "$origin_status" != 0 ] || ! tail -n 50 "$work/origin.log" | grep -q '"shutdown requested"'; then
        tail -n 30 "$work/origin.log" >&2 || true
        echo "fixture-report: the origin crashed (exit status $origin_status); its log is above and in $work" >&2
        echo "Rows finished before the crash:"
        cat "$work/report.md" 2>/dev/null || true
        status=1
        break
    fi
    if [ "$restarts" -ge 2 ]; then
        echo "fixture-report: the origin was stopped from outside $((restarts + 1)) times; giving up" >&2
        status=1
        break
    fi
    restarts=$((restarts + 1))
    echo "fixture-report: the origin was stopped by a signal from outside; restarting it and resuming" >&2
done
exit "$status"
