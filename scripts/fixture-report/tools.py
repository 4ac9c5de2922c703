"""HTTP access to the local origin and wrappers around ffprobe, ffmpeg and openssl."""

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field

# Proxy variables are dropped for every child process, so ffmpeg and ffprobe connect to
# 127.0.0.1 directly.
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
CHILD_ENV = {name: value for name, value in os.environ.items() if name.lower() not in PROXY_VARIABLES}


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class Origin:
    """Client of a vylux origin that listens on 127.0.0.1."""

    def __init__(self, port: int, api_key: str):
        self.base_url = f"http://127.0.0.1:{port}"
        self._api_key = api_key
        # An empty ProxyHandler keeps urllib from reading *_proxy variables.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                timeout: float = 60) -> Response:
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        try:
            with self._opener.open(request, timeout=timeout) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def api(self, method: str, path: str, payload: dict | None = None) -> Response:
        """Sends a job API request with the X-API-Key header and an optional JSON body."""
        headers = {"X-API-Key": self._api_key}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        return self.request(method, path, headers, body)


def run(command: list[str], timeout: float, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Runs a command and captures its output. A time-out returns exit status 124."""
    try:
        return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, env=CHILD_ENV)
    except subprocess.TimeoutExpired:
        message = f"{command[0]} timed out after {timeout:.0f} s".encode()
        return subprocess.CompletedProcess(command, 124, b"", message)


def ffprobe_json(arguments: list[str], timeout: float = 120) -> dict:
    """Runs ffprobe with JSON output and returns the parsed document."""
    result = run(["ffprobe", "-v", "error", "-of", "json", *arguments], timeout)
    if result.returncode != 0:
        raise RuntimeError(f"ffprobe failed: {result.stderr.decode(errors='replace').strip()[:300]}")
    return json.loads(result.stdout or b"{}")


def stream_rotation(stream: dict) -> int:
    """Returns the clockwise display rotation of a stream in degrees: 0, 90, 180 or 270."""
    degrees = 0
    for side_data in stream.get("side_data_list", []):
        if "rotation" in side_data:
            degrees = int(round(float(side_data["rotation"])))
    if degrees == 0 and "rotate" in stream.get("tags", {}):
        # The legacy `rotate` tag counts clockwise and the display matrix counter-clockwise.
        degrees = -int(stream["tags"]["rotate"])
    return (-degrees) % 360


@dataclass
class SourceInfo:
    """Measurements of a source file, taken with ffprobe, that the checks compare against."""

    video_duration: float | None = None
    audio_duration: float | None = None
    # How long the decoded samples of the first audio stream last, when it differs from the packets.
    audio_decoded_duration: float | None = None
    frame_rate: float | None = None
    width: int = 0
    height: int = 0
    rotation: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def display_is_portrait(self) -> bool:
        if self.rotation in (90, 270):
            return self.width > self.height
        return self.width < self.height


@dataclass
class PacketSpan:
    seconds: float
    packets: int
    # When the first packet starts and when the last one ends, in seconds.
    start: float = 0.0
    end: float = 0.0


def packet_span(path: str, stream_index: int) -> PacketSpan | None:
    """Measures a stream from its first packet's start to its last packet's end.

    Packets that the demuxer marks as discarded (outside an edit list) are left out. Packet
    timestamps are used instead of the container's duration because some containers state
    none or a wrong one (a fragmented MP4 in the fixtures claims 143165 s). When the last
    packet's duration is missing or implausible (Matroska often states 1 ms), the median gap
    between packets is used instead.
    """
    document = ffprobe_json(["-select_streams", str(stream_index),
                             "-show_entries", "packet=pts_time,dts_time,duration_time,flags", path])
    packets = []
    for packet in document.get("packets", []):
        time = packet.get("pts_time", packet.get("dts_time"))
        if "D" in packet.get("flags", "") or time is None:
            continue
        packets.append((float(time), float(packet.get("duration_time", 0) or 0)))
    if not packets:
        return None
    packets.sort()
    gaps = sorted(later[0] - earlier[0] for earlier, later in zip(packets, packets[1:]))
    typical_gap = gaps[len(gaps) // 2] if gaps else 0.0
    last_time, last_duration = packets[-1]
    if last_duration < typical_gap / 2:
        last_duration = typical_gap
    end = last_time + last_duration
    return PacketSpan(end - packets[0][0], len(packets), packets[0][0], end)


def decoded_audio_seconds(path: str, stream_index: int) -> float | None:
    """Decodes one audio stream with ffmpeg and returns how long the samples last.

    Packet timestamps overstate audio that starts with a gap, and samples understate audio with
    gaps between packets, so the checks accept either.
    """
    rate = 48000
    result = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", f"0:{stream_index}",
                  "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"], timeout=600)
    if result.returncode != 0 or not result.stdout:
        return None
    return len(result.stdout) / 2 / rate


def probe_source(path: str) -> SourceInfo:
    """Measures the first video stream (attached pictures aside) and first audio stream of a file."""
    info = SourceInfo()
    try:
        document = ffprobe_json(["-show_streams", "-show_format", path])
    except RuntimeError as error:
        info.problems.append(str(error))
        return info
    streams = document.get("streams", [])
    video = next((stream for stream in streams if stream.get("codec_type") == "video"
                  and not stream.get("disposition", {}).get("attached_pic")), None)
    audio = next((stream for stream in streams if stream.get("codec_type") == "audio"), None)
    if video is not None:
        info.width = int(video.get("width", 0))
        info.height = int(video.get("height", 0))
        info.rotation = stream_rotation(video)
        span = packet_span(path, int(video["index"]))
        if span is not None and span.seconds > 0:
            info.video_duration = span.seconds
            # Video that starts after the container does (B-frame delay without an edit list) is
            # shown from the container's start with its first frame held, as players show it.
            container_start = document.get("format", {}).get("start_time")
            if container_start is not None and float(container_start) < span.start:
                info.video_duration = span.end - float(container_start)
            # The average rate over the packets; containers such as Matroska state a time base instead.
            info.frame_rate = span.packets / span.seconds
    if audio is not None:
        span = packet_span(path, int(audio["index"]))
        info.audio_duration = span.seconds if span is not None else None
        info.audio_decoded_duration = decoded_audio_seconds(path, int(audio["index"]))
    # A single frame without a duration spans nothing, so the stated duration is used instead.
    if video is not None and info.video_duration is None:
        stated = video.get("duration") or document.get("format", {}).get("duration")
        info.video_duration = float(stated) if stated else None
    return info


def decrypt_aes128_cbc(data: bytes, key_hex: str, iv_hex: str) -> tuple[bytes | None, str]:
    """Decrypts with `openssl aes-128-cbc -d` (PKCS#7 padding) and returns (plaintext or None, error)."""
    result = run(["openssl", "aes-128-cbc", "-d", "-K", key_hex, "-iv", iv_hex], 60, stdin=data)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        return None, lines[0] if lines else f"exit status {result.returncode}"
    return result.stdout, ""
