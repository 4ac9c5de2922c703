#!/usr/bin/env bash
# Prints the SSIM of every rendition kept by `vylux bench transcode --keep DIR`, ours and
# ffmpeg's, against FFmpeg's Lanczos scale of the source to the rendition's size.
#
# Usage: bash scripts/ladder-ssim.sh SOURCE DIR
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: bash scripts/ladder-ssim.sh SOURCE DIR (DIR as given to vylux bench transcode --keep)" >&2
    exit 2
fi
source_file="$1"
kept="$2"
for side in vylux/video ffmpeg; do
    if [ ! -d "$kept/$side" ]; then
        echo "ladder-ssim: $kept/$side not found; run vylux bench transcode SOURCE --keep $kept first" >&2
        exit 1
    fi
done

work="$(mktemp -d -t vylux-ssim.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Decodes one rendition (init segment and media segments in playlist order) to raw I420.
decode_rendition() {
    local dir="$1" out="$2"
    local segments
    segments="$(grep -v '^#' "$dir/playlist.m3u8")"
    (cd "$dir" && cat init.mp4 $segments) > "$work/joined.mp4"
    ffmpeg -v error -y -i "$work/joined.mp4" -pix_fmt yuv420p -f rawvideo "$out"
}

# Prints the overall SSIM of two raw I420 files of the given size.
ssim() {
    ffmpeg -f rawvideo -pix_fmt yuv420p -s "$1" -i "$2" -f rawvideo -pix_fmt yuv420p -s "$1" -i "$3" \
        -lavfi ssim -f null - 2>&1 | sed -n 's/.*All:\([0-9.]*\).*/\1/p'
}

echo "| rung | ours | ffmpeg |"
echo "| --- | --- | --- |"
# Rungs in master playlist order, from the largest.
for playlist in $(grep -v '^#' "$kept/vylux/master.m3u8"); do
    rung_dir="$kept/vylux/$(dirname "$playlist")"
    rung="$(basename "$rung_dir")"
    size="$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$rung_dir/init.mp4")"
    ffmpeg -v error -y -i "$source_file" -vf "scale=${size/x/:}:flags=lanczos" -pix_fmt yuv420p -f rawvideo "$work/reference.yuv"
    decode_rendition "$rung_dir" "$work/ours.yuv"
    decode_rendition "$kept/ffmpeg/$rung" "$work/theirs.yuv"
    echo "| $rung | $(ssim "$size" "$work/ours.yuv" "$work/reference.yuv") | $(ssim "$size" "$work/theirs.yuv" "$work/reference.yuv") |"
done
