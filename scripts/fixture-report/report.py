"""Submit each fixture as an encrypted video:full job to a local vylux origin and tabulate the outcome.

Started by scripts/fixture-report.sh, which builds vylux and starts the origin. Reads API_KEY
and KEY_TOKEN_SECRET (through `vylux token mint`) from the environment. Prints progress on
stderr and the Markdown table on stdout. Exits 1 when any row has a failed check or an
unexpected outcome.
"""

import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field

from checks import CheckContext, check_completed
from tools import Origin, probe_source, run

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".ts", ".flv", ".wmv", ".3gp"}
AUDIO_EXTENSIONS = {".m4a", ".mp3", ".flac", ".wav", ".ogg", ".opus", ".amr"}
# Failure causes that name what is wrong with the source, per kind of file expected to fail.
EXPECTED_CAUSES = {
    "audio": {"no_video_stream"},
    "image": {"still_image"},
    "damaged image": {"still_image", "damaged_source"},
    "damaged video": {"damaged_source"},
}
JOB_REQUEST_PIPELINE = {
    "cover": {"enabled": True},
    "preview": {"enabled": True},
    "package": {"hls": {"enabled": True, "encryption": {"enabled": True}}},
}
POLL_INTERVAL_S = 0.2


@dataclass
class Row:
    file: str
    result: str = ""
    seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    flagged: bool = False

    def flag(self, note: str) -> None:
        self.notes.append(note)
        self.flagged = True


def read_categories(fixtures: str) -> dict[str, str]:
    """Returns file name to category from the Files table of MANIFEST.md, or {} without one."""
    categories = {}
    try:
        with open(os.path.join(fixtures, "MANIFEST.md"), encoding="utf-8") as manifest:
            for line in manifest:
                cells = [cell.strip() for cell in line.split("|")]
                if len(cells) > 4 and cells[1].startswith("`") and cells[1].endswith("`"):
                    categories[cells[1].strip("`")] = cells[3]
    except FileNotFoundError:
        pass
    return categories


def classify(name: str, category: str | None) -> str:
    """Returns the kind of fixture: video, audio, image, damaged video or damaged image."""
    extension = os.path.splitext(name)[1].lower()
    if category:
        is_video = category.startswith("video")
    else:
        is_video = extension in VIDEO_EXTENSIONS
    damaged = (category or "").endswith("/corrupt") or name.startswith(("corrupt-", "truncated-"))
    if damaged:
        return "damaged video" if is_video else "damaged image"
    if is_video:
        return "video"
    if (category or "").startswith("audio") or extension in AUDIO_EXTENSIONS:
        return "audio"
    return "image"


def fixture_hash(name: str) -> str:
    """Returns a media hash for a fixture: its name with characters outside [A-Za-z0-9._-] replaced."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:128]


def submit(origin: Origin, media_hash: str, source_key: str) -> tuple[dict | None, str]:
    """Creates the job, waiting out the per-key rate limit, and returns (creation reply, error).

    A reply for an identical job that already completed has `job_id` null and carries the
    results. A resumed run gets such a reply when it submits the file that was in progress again.
    """
    payload = {"source": {"hash": media_hash, "key": source_key}, "pipeline": JOB_REQUEST_PIPELINE}
    while True:
        reply = origin.api("POST", "/api/video/jobs", payload)
        if reply.status != 429:
            break
        time.sleep(float(reply.headers.get("Retry-After", "5")))
    if reply.status not in (200, 202):
        return None, f"job creation returned HTTP {reply.status}: {reply.body.decode(errors='replace')[:200]}"
    return reply.json(), ""


def wait_for_job(origin: Origin, job_id: str, timeout: float) -> tuple[dict | None, list[str]]:
    """Polls the job until it is completed or failed and returns the last job document and retry notes."""
    deadline = time.monotonic() + timeout
    notes, last_error = [], None
    while time.monotonic() < deadline:
        reply = origin.api("GET", f"/api/jobs/{job_id}")
        if reply.status != 200:
            return None, [f"GET /api/jobs/{job_id} returned HTTP {reply.status}"]
        job = reply.json()
        if job["status"] in ("completed", "failed"):
            return job, notes
        # A retryable failure puts the job back in the queue with its error set.
        if job.get("error") and job["error"] != last_error:
            last_error = job["error"]
            notes.append(f"attempt failed and was retried: {last_error[:160]}")
        time.sleep(POLL_INTERVAL_S)
    return None, notes + [f"still not finished after {timeout:.0f} s"]


def describe_failure(job: dict) -> tuple[str, str | None, str]:
    """Returns (result text, cause code, cause message) of a failed video:full job.

    The stage codes are the contract's generic ones (`extract_failed`, `generate_failed`, ...).
    The cause is the media error code that the job's error text carries after the failed stage list.
    """
    error = job.get("error") or ""
    stages = ((job.get("results") or {}).get("stages")) or {}
    stage_codes = [f"{name} {state['error_code']}" for name, state in stages.items()
                   if state.get("status") == "failed" and state.get("error_code")]
    match = re.search(r"\] \(([a-z_]+): (.*)\)$", error, re.DOTALL)
    cause, message = (match.group(1), match.group(2)) if match else (None, error)
    result = cause or "unknown"
    if stage_codes:
        result += " (" + ", ".join(stage_codes) + ")"
    return result, cause, message


def process(args, origin: Origin, name: str, kind: str) -> Row:
    """Runs one fixture through the job and, when it completes, through every check."""
    row = Row(name)
    media_hash = fixture_hash(name)
    source_key = f"uploads/{name}"
    source_path = os.path.join(args.fixtures, name)
    destination = os.path.join(args.data_dir, "source", source_key)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(source_path, destination)

    started = time.monotonic()
    created, error = submit(origin, media_hash, source_key)
    if created is None:
        row.result = "rejected"
        row.flag(error)
        return row
    if created.get("job_id") is None and created.get("status") == "completed":
        job = created
        row.notes.append("the job had completed before the origin was restarted, so no time is shown")
    else:
        job, retry_notes = wait_for_job(origin, created["job_id"], args.job_timeout)
        row.seconds = time.monotonic() - started
        row.notes += retry_notes
    if job is None:
        # NOTE: the origin keeps running a timed-out job, so later jobs wait behind it.
        row.result = "timed out"
        row.flagged = True
        return row

    if job["status"] == "failed":
        row.result, cause, message = describe_failure(job)
        if kind == "video":
            row.flag(f"expected to complete: {message[:200]}")
        elif cause not in EXPECTED_CAUSES[kind]:
            expected = " or ".join(sorted(EXPECTED_CAUSES[kind]))
            row.flag(f"unclear failure for this {kind} file, expected {expected}: {message[:160]}")
        else:
            row.notes.append(message[:120])
        return row

    row.result = "ok"
    # A file damaged on purpose may still hold every frame (an mdat box that claims more bytes
    # than the file has, for example). Completing is then right, as long as every check below
    # passes; only audio and image files must fail.
    if kind == "damaged video":
        row.notes.append("damaged on purpose, but every frame is present")
    elif kind != "video":
        row.flag(f"completed, but a {kind} file must fail with a clear error code")
    token = mint_token(args.vylux, media_hash)
    source = probe_source(source_path)
    context = CheckContext(origin, args.data_dir, media_hash, token, source_path, source)
    notes, problems = check_completed(context, job)
    row.notes += notes
    for problem in source.problems + problems:
        row.flag(problem)
    return row


def mint_token(vylux: str, media_hash: str) -> str:
    """Mints a playback token with `vylux token mint`, valid long enough for the slowest check."""
    result = run([vylux, "token", "mint", media_hash, "--ttl", "7200"], 60)
    if result.returncode != 0:
        raise SystemExit(f"vylux token mint failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode().strip()


def origin_ready(origin: Origin) -> bool:
    try:
        return origin.request("GET", "/readyz").status == 200
    except OSError:
        return False


def markdown_table(rows: list[Row]) -> str:
    lines = ["| file | result | time | notes |", "| --- | --- | --- | --- |"]
    for row in rows:
        seconds = f"{row.seconds:.1f} s" if row.seconds is not None else "-"
        notes = "; ".join(row.notes).replace("|", "\\|").replace("\n", " ")
        mark = "**CHECK** " if row.flagged else ""
        lines.append(f"| `{row.file}` | {row.result} | {seconds} | {mark}{notes} |")
    return "\n".join(lines) + "\n"


# Exit status when the origin stops responding, so that the caller can restart it and resume.
EXIT_ORIGIN_STOPPED = 3


def load_rows(path: str | None) -> list[Row]:
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as state:
        return [Row(**fields) for fields in json.load(state)]


def save_rows(path: str | None, rows: list[Row]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as state:
            json.dump([asdict(row) for row in rows], state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port of the origin on 127.0.0.1")
    parser.add_argument("--data-dir", required=True, help="DATA_DIR of the origin (local buckets)")
    parser.add_argument("--vylux", required=True, help="path of the vylux binary")
    parser.add_argument("--fixtures", required=True, help="fixture folder")
    parser.add_argument("--filter", default="*", help="glob on file names (default: every file)")
    parser.add_argument("--job-timeout", type=float, default=3600, help="seconds one job may take")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--state", help="JSON file of finished rows; files listed there are skipped (resume)")
    args = parser.parse_args()

    origin = Origin(args.port, os.environ["API_KEY"])
    categories = read_categories(args.fixtures)
    names = sorted(name for name in os.listdir(args.fixtures)
                   if name != "MANIFEST.md" and os.path.isfile(os.path.join(args.fixtures, name))
                   and fnmatch.fnmatchcase(name, args.filter))
    if not names:
        print(f"fixture-report: no fixture matches {args.filter!r}", file=sys.stderr)
        return 1

    rows = load_rows(args.state)
    finished = {row.file for row in rows}
    resumed = bool(rows)
    for index, name in enumerate(names, 1):
        if name in finished:
            continue
        kind = classify(name, categories.get(name))
        print(f"[{index}/{len(names)}] {name} ({kind})", file=sys.stderr, flush=True)
        try:
            row = process(args, origin, name, kind)
        except OSError as error:
            print(f"fixture-report: the origin stopped responding while processing {name}: {error}",
                  file=sys.stderr)
            return EXIT_ORIGIN_STOPPED
        if resumed:
            row.notes.insert(0, "run again after the origin was restarted")
            resumed = False
        rows.append(row)
        save_rows(args.state, rows)
        seconds = f"{row.seconds:.1f} s" if row.seconds is not None else "-"
        print(f"    {row.result}, {seconds}{', CHECK' if row.flagged else ''}: {'; '.join(row.notes)}",
              file=sys.stderr, flush=True)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as output:
                output.write(markdown_table(rows))
        if not origin_ready(origin):
            print(f"fixture-report: the origin is not ready after processing {name}", file=sys.stderr)
            return EXIT_ORIGIN_STOPPED

    table = markdown_table(rows)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(table)
    print(table)
    flagged = sum(row.flagged for row in rows)
    print(f"{len(rows)} files, {flagged} with a failed check or an unexpected outcome", file=sys.stderr)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
