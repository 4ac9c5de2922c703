"""Checks of one completed encrypted video:full job: playback, durations, sizes, cover and keys."""

import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass, field

from tools import Origin, SourceInfo, decrypt_aes128_cbc, ffprobe_json, run

# First box types a decrypted CMAF media segment may start with.
SEGMENT_BOX_TYPES = (b"moof", b"styp")
# Generous limit for decoding every rendition of the longest fixture on a busy machine.
PLAYBACK_TIMEOUT_S = 1800
ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass
class Segment:
    uri: str
    duration: float
    key_method: str | None
    key_uri: str | None
    iv: str | None


@dataclass
class Rendition:
    """One playlist of the package: a video variant or the audio rendition."""

    kind: str
    uri: str
    width: int = 0
    height: int = 0
    frame_rate: float | None = None
    segments: list[Segment] = field(default_factory=list)


@dataclass
class CheckContext:
    origin: Origin
    data_dir: str
    hash: str
    token: str
    source_path: str
    source: SourceInfo


def parse_attributes(text: str) -> dict:
    return {name: value.strip('"') for name, value in ATTRIBUTE.findall(text)}


def parse_master(text: str) -> list[Rendition]:
    """Returns the video variants of a master playlist, then its audio rendition if it has one."""
    variants, audio = [], []
    pending = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = parse_attributes(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA:"):
            attributes = parse_attributes(line.split(":", 1)[1])
            if attributes.get("TYPE") == "AUDIO" and "URI" in attributes:
                audio.append(Rendition("audio", attributes["URI"]))
        elif line and not line.startswith("#") and pending is not None:
            width, _, height = pending.get("RESOLUTION", "0x0").partition("x")
            rate = float(pending["FRAME-RATE"]) if "FRAME-RATE" in pending else None
            variants.append(Rendition("video", line, int(width or 0), int(height or 0), rate))
            pending = None
    return variants + audio


def parse_media_playlist(text: str) -> list[Segment]:
    segments = []
    key_method, key_uri, iv = None, None, None
    duration = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-KEY:"):
            attributes = parse_attributes(line.split(":", 1)[1])
            key_method, key_uri, iv = attributes.get("METHOD"), attributes.get("URI"), attributes.get("IV")
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append(Segment(line, duration, key_method, key_uri, iv))
            duration = None
    return segments


def stream_path(context: CheckContext, relative: str) -> str:
    return f"/stream/{context.hash}/{relative}"


def check_completed(context: CheckContext, job: dict) -> tuple[list[str], list[str]]:
    """Runs every check on a completed job and returns (notes, problems)."""
    notes, problems = [], []
    artifacts = (job.get("results") or {}).get("artifacts") or {}
    transcode = artifacts.get("transcode")
    if not transcode:
        return notes, ["results have no artifacts.transcode"]

    master = context.origin.request("GET", stream_path(context, "master.m3u8"))
    if master.status != 200:
        return notes, [f"GET master.m3u8 returned HTTP {master.status}"]
    renditions = parse_master(master.body.decode())
    videos = [rendition for rendition in renditions if rendition.kind == "video"]
    sizes = ", ".join(f"{rendition.width}x{rendition.height}" for rendition in videos)
    noun = "rendition" if len(videos) == 1 else "renditions"
    notes.append(f"{len(videos)} {noun} ({sizes})" + (" + audio" if len(videos) < len(renditions) else ""))

    problems += check_track_sizes(transcode, videos)
    key_hex, key_problems = fetch_key(context)
    problems += key_problems
    for rendition in renditions:
        problems += check_rendition(context, rendition, key_hex)
    problems += check_playback(context)
    problems += check_artifact_files(context, artifacts)
    if os.path.basename(context.source_path).startswith("phone-"):
        cover_notes, cover_problems = check_cover_upright(context, artifacts.get("cover") or {})
        notes += cover_notes
        problems += cover_problems
    return notes, problems


def check_track_sizes(transcode: dict, variants: list[Rendition]) -> list[str]:
    """Compares each `video_tracks` entry's width and height with the RESOLUTION of its variant."""
    problems = []
    by_uri = {variant.uri: variant for variant in variants}
    tracks = transcode.get("video_tracks") or []
    for track in tracks:
        relative = "video/" + track["playlist"].split("/video/", 1)[-1]
        variant = by_uri.get(relative)
        if variant is None:
            problems.append(f"video track {track['id']} is not in the master playlist")
        elif (track["width"], track["height"]) != (variant.width, variant.height):
            problems.append(f"{track['id']}: results say {track['width']}x{track['height']}, "
                            f"RESOLUTION is {variant.width}x{variant.height}")
    if len(tracks) != len(variants):
        problems.append(f"{len(tracks)} video tracks in the results, {len(variants)} variants in the master playlist")
    return problems


def fetch_key(context: CheckContext) -> tuple[str | None, list[str]]:
    """Fetches the content key with the token, and checks that the endpoint rejects a request without one."""
    problems = []
    path = f"/api/key/{context.hash}"
    anonymous = context.origin.request("GET", path)
    if anonymous.status != 401:
        problems.append(f"GET {path} without a token returned HTTP {anonymous.status}, expected 401")
    reply = context.origin.request("GET", path, {"Authorization": f"Bearer {context.token}"})
    if reply.status != 200 or len(reply.body) != 16:
        problems.append(f"GET {path} with a token returned HTTP {reply.status} and {len(reply.body)} bytes, "
                        "expected 200 and 16 bytes")
        return None, problems
    return reply.body.hex(), problems


def check_rendition(context: CheckContext, rendition: Rendition, key_hex: str | None) -> list[str]:
    """Checks one media playlist: its total duration, its coded size and its first segment's encryption."""
    label = rendition.uri.rsplit("/", 2)[-2] if "/" in rendition.uri else rendition.uri
    reply = context.origin.request("GET", stream_path(context, rendition.uri))
    if reply.status != 200:
        return [f"{label}: GET playlist returned HTTP {reply.status}"]
    rendition.segments = parse_media_playlist(reply.body.decode())
    if not rendition.segments:
        return [f"{label}: the playlist lists no segments"]

    problems = check_duration(context, rendition, label)
    if rendition.kind == "video":
        problems += check_coded_size(context, rendition, label)
    problems += check_segment_encryption(context, rendition, label, key_hex)
    return problems


def check_duration(context: CheckContext, rendition: Rendition, label: str) -> list[str]:
    """Compares the sum of EXTINF with the source stream's duration, within one frame.

    One frame is the longer of the source's and the output's frame period, so neither a rate
    change nor rounding to the output's frame grid counts as a mismatch. Audio may match either
    its packets' span or its decoded length (see `decoded_audio_seconds`).
    """
    total = sum(segment.duration for segment in rendition.segments)
    source = context.source
    expected = source.video_duration if rendition.kind == "video" else source.audio_duration
    if expected is None:
        return [f"{label}: the source's {rendition.kind} duration could not be measured"]
    periods = [1 / rate for rate in (source.frame_rate, rendition.frame_rate) if rate]
    tolerance = max(periods) if periods else 1 / 30
    decoded = source.audio_decoded_duration if rendition.kind == "audio" else None
    if decoded is not None and abs(total - decoded) <= tolerance + 1e-6:
        return []
    if abs(total - expected) > tolerance + 1e-6:
        return [f"{label}: duration {total:.3f} s, source {expected:.3f} s "
                f"(off by {total - expected:+.3f} s, one frame is {tolerance:.3f} s)"]
    return []


def check_coded_size(context: CheckContext, rendition: Rendition, label: str) -> list[str]:
    """Probes the rendition over HTTP and compares its coded size with the master's RESOLUTION."""
    url = context.origin.base_url + stream_path(context, rendition.uri)
    try:
        document = ffprobe_json(["-headers", f"Authorization: Bearer {context.token}\r\n",
                                 "-select_streams", "v:0", "-show_entries", "stream=width,height", url])
    except RuntimeError as error:
        return [f"{label}: {error}"]
    streams = document.get("streams") or [{}]
    coded = (streams[0].get("width"), streams[0].get("height"))
    if coded != (rendition.width, rendition.height):
        return [f"{label}: coded size {coded[0]}x{coded[1]}, RESOLUTION {rendition.width}x{rendition.height}"]
    return []


def check_segment_encryption(context: CheckContext, rendition: Rendition, label: str,
                             key_hex: str | None) -> list[str]:
    """Checks that the first segment is AES-128 encrypted and decrypts into an ISO-BMFF box."""
    segment = rendition.segments[0]
    if segment.key_method != "AES-128":
        return [f"{label}: first segment has key method {segment.key_method}, expected AES-128"]
    playlist_url = context.origin.base_url + stream_path(context, rendition.uri)
    key_path = urllib.parse.urlsplit(urllib.parse.urljoin(playlist_url, segment.key_uri or "")).path
    problems = []
    if key_path != f"/api/key/{context.hash}":
        problems.append(f"{label}: key URI {segment.key_uri} does not resolve to /api/key/{context.hash}")
    if not segment.iv or not re.fullmatch(r"0[xX][0-9a-fA-F]{32}", segment.iv):
        return problems + [f"{label}: first segment has no 128-bit IV"]
    if key_hex is None:
        return problems

    segment_path = stream_path(context, rendition.uri.rsplit("/", 1)[0] + "/" + segment.uri)
    reply = context.origin.request("GET", segment_path)
    if reply.status != 200:
        return problems + [f"{label}: GET {segment.uri} returned HTTP {reply.status}"]
    if reply.body[4:8] in SEGMENT_BOX_TYPES:
        problems.append(f"{label}: {segment.uri} is served in the clear")
    plain, error = decrypt_aes128_cbc(reply.body, key_hex, segment.iv[2:])
    if plain is None:
        problems.append(f"{label}: openssl could not decrypt {segment.uri}: {error}")
    elif plain[4:8] not in SEGMENT_BOX_TYPES:
        problems.append(f"{label}: decrypted {segment.uri} starts with box {plain[4:8]!r}, expected moof or styp")
    return problems


def check_playback(context: CheckContext) -> list[str]:
    """Decodes every stream with the token, expecting no error output, and expects failure without it."""
    url = context.origin.base_url + stream_path(context, "master.m3u8")
    problems = []
    with_token = run(["ffmpeg", "-nostdin", "-v", "error",
                      "-headers", f"Authorization: Bearer {context.token}\r\n",
                      "-i", url, "-map", "0", "-f", "null", "-"], PLAYBACK_TIMEOUT_S)
    output = with_token.stderr.decode(errors="replace").strip()
    if with_token.returncode != 0 or output:
        first = output.splitlines()[0] if output else "no output"
        problems.append(f"ffmpeg playback with the token: exit status {with_token.returncode}, "
                        f"{len(output.splitlines())} error lines, first: {first[:160]}")

    # Two seconds are enough: the first segment of every stream already needs the key.
    without_token = run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-t", "2",
                         "-f", "null", "-"], 300)
    if without_token.returncode == 0 and not without_token.stderr.strip():
        problems.append("ffmpeg without the Authorization header decoded the stream with no error")
    return problems


def check_artifact_files(context: CheckContext, artifacts: dict) -> list[str]:
    """Checks that the cover and preview files exist in the media bucket with the sizes the results state."""
    problems = []
    for name in ("cover", "preview"):
        artifact = artifacts.get(name) or {}
        path = os.path.join(context.data_dir, "media", artifact.get("key", "missing"))
        if not os.path.isfile(path):
            problems.append(f"{name} file {artifact.get('key')} is missing from the media bucket")
        elif os.path.getsize(path) != artifact.get("size"):
            problems.append(f"{name} is {os.path.getsize(path)} bytes, results say {artifact.get('size')}")
    return problems


def check_cover_upright(context: CheckContext, cover: dict) -> tuple[list[str], list[str]]:
    """Checks that a rotated phone video's cover is upright.

    The cover must have the source's display orientation (portrait for a 90 or 270 degree
    rotation of a landscape frame), and it must resemble ffmpeg's auto-rotated frame more than
    that frame turned by 180 degrees. The second test also catches 90 and 270 swapped.
    """
    path = os.path.join(context.data_dir, "media", cover.get("key", "missing"))
    if not os.path.isfile(path):
        return [], ["cover file is missing, so its orientation is unchecked"]
    streams = ffprobe_json(["-show_entries", "stream=width,height", path]).get("streams") or [{}]
    width, height = streams[0].get("width", 0), streams[0].get("height", 0)
    source = context.source
    notes = [f"cover {width}x{height} (source {source.width}x{source.height}, rotation {source.rotation})"]
    if (width < height) != source.display_is_portrait:
        expected = "portrait" if source.display_is_portrait else "landscape"
        return notes, [f"cover is {width}x{height}, expected {expected} for rotation {source.rotation}"]

    with tempfile.TemporaryDirectory(prefix="cover-") as scratch:
        reference = os.path.join(scratch, "reference.png")
        # The cover is the first frame at or after 1 s, or the last frame of a shorter video.
        duration = source.video_duration or 0
        seek = ["-ss", "1"] if duration > 1.05 else []
        extract = run(["ffmpeg", "-nostdin", "-v", "error", *seek, "-i", context.source_path, "-map", "0:v:0",
                       "-vf", f"scale={width}:{height}", "-update", "1", "-y", reference], 300)
        if extract.returncode != 0 or not os.path.isfile(reference):
            return notes, ["ffmpeg could not extract a reference frame for the cover check"]
        upright = psnr(path, reference, "")
        turned = psnr(path, reference, ",hflip,vflip")
    if upright is None or turned is None:
        return notes, ["PSNR of the cover against the reference frame could not be measured"]
    if upright <= turned:
        return notes, [f"cover looks upside down: PSNR {upright:.1f} dB upright, {turned:.1f} dB turned 180 degrees"]
    notes.append(f"upright (PSNR {upright:.1f} dB vs {turned:.1f} dB turned)")
    return notes, []


def psnr(image: str, reference: str, reference_filters: str) -> float | None:
    """Returns the luma PSNR of `image` against `reference` after `reference_filters`, in dB."""
    graph = f"[0:v]format=gray[a];[1:v]format=gray{reference_filters}[b];[a][b]psnr"
    result = run(["ffmpeg", "-nostdin", "-v", "info", "-i", image, "-i", reference, "-lavfi", graph,
                  "-f", "null", "-"], 120)
    match = re.search(r"PSNR y:\s*(\S+)", result.stderr.decode(errors="replace"))
    if not match:
        return None
    return float("inf") if match.group(1) == "inf" else float(match.group(1))
