"""Benchmark the archive's audio copy (a script, not a test): memory and throughput.

For each size (1 MB and 200 MB by default) the real copy (`Archiver.copy_audio`:
allowlist, streamed download, SHA-256, multipart upload in 8 MiB parts) runs in a
fresh child process, from the ROUND0 stand-in's audio storage on 127.0.0.1 into S3
played by a moto server on 127.0.0.1 (a separate thread of this parent process, so
the bytes moto keeps do not count against the copy).

1. Peak memory: the child's resident set (Linux `/proc/self/status`). Once the code
   is loaded and the clients exist, the high-water mark is reset (`clear_refs` 5);
   `VmRSS` then is the start, `VmHWM` after the copy its peak, and the difference is
   what the copy itself needed. The peak while loading (before the reset, mostly
   botocore's service models) is shown too. Not `ru_maxrss`: on Linux it keeps the
   parent's peak across fork+exec, and this parent holds moto's copies of the files.
   RSS of a fresh process, not tracemalloc: tracemalloc sees Python allocations only
   (not OpenSSL's, zlib's or the socket buffers) and slows the copy it measures.
2. Throughput: bytes / wall time of the copy, and its ratio to a plain local file copy
   of the same bytes (`shutil.copyfile`, source file already in the page cache).

Each copy is checked: the stored object has the source's size and SHA-256.

Run: `.venv/bin/python bench/archive_copy.py` (`--sizes-mb 1 200`, `--runs 3`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000
BUCKET = "bench-archive"
REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
}

CHILD = """
import json, re, sys, time
import boto3
from round0.http import Timeouts
from round0_archive.audio import AudioAllowlist, AudioLimits, AudioSource
from round0_archive.bucket import ArchiveBucket
from round0_archive.service import Archiver

def status_kib(field):
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\\s+(\\d+)", status.read()).group(1))

url, endpoint, origin, key = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.list_buckets()  # the client and its connection pool exist before the copy
archiver = Archiver(
    api=None,
    audio=AudioSource(
        AudioAllowlist(origin),
        AudioLimits(max_bytes=10**10, timeouts=Timeouts(3.0, 30.0)),
    ),
    bucket=ArchiveBucket("bench-archive", client=s3),
    once=None,
)
# forget the peak of the imports (botocore's service models): from here on the
# high-water mark is the copy's own
load_peak = status_kib("VmHWM")
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")
before = status_kib("VmRSS")
started = time.perf_counter()
outcome = archiver.copy_audio(key, url, {"interview-id": "bench"}, time_left=lambda: 900.0)
seconds = time.perf_counter() - started
print(json.dumps({"outcome": outcome.value, "seconds": seconds, "rss_before_kib": before,
                  "rss_peak_kib": status_kib("VmHWM"),
                  "load_peak_kib": load_peak}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _child_copy(url: str, endpoint: str, origin: str, key: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(FAKE_AWS)
    env["POWERTOOLS_SERVICE_NAME"] = "bench"
    output = subprocess.run(
        [sys.executable, "-c", CHILD, url, endpoint, origin, key],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _file_copy_seconds(chunks: Any, directory: Path) -> float:
    source, target = directory / "source.mp3", directory / "target.mp3"
    with source.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    shutil.copyfile(source, target)  # warm-up: both files in the page cache
    started = time.perf_counter()
    shutil.copyfile(source, target)
    seconds = time.perf_counter() - started
    source.unlink()
    target.unlink()
    return seconds


def _measure(
    storage: Any, s3: Any, endpoint: str, size_mb: int, runs: int, scratch: Path
) -> dict[str, float]:
    """Copy one `size_mb` answer `runs` times, each in a fresh child; check each copy."""
    from round0_testkit.events import load_bus_event
    from round0_testkit.standins.round0_api import audio_chunks

    detail = load_bus_event("interview_ended.json")["detail"]
    interview_id = f"bench-{size_mb}mb"
    detail["data"]["interview"]["id"] = interview_id
    detail["data"]["responses"] = detail["data"]["responses"][:1]
    storage.register_interview(detail, audio_size=size_mb * MB)
    question_id = detail["data"]["responses"][0]["question_id"]
    audio = storage.audio_of(interview_id, question_id)
    expected = hashlib.sha256()
    for chunk in audio_chunks(audio.seed, audio.size):
        expected.update(chunk)
    copies = []
    for run in range(runs):
        url = storage.results_document(interview_id)["responses"][0]["audio_url"]
        key = f"interviews/{interview_id}/question_{question_id}-{run}.mp3"
        result = _child_copy(url, endpoint, storage.origin, key)
        assert result["outcome"] == "copied", result
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(MB):
            digest.update(chunk)
        assert digest.hexdigest() == expected.hexdigest(), "stored bytes differ"
        s3.delete_object(Bucket=BUCKET, Key=key)
        copies.append(result)
    file_seconds = statistics.median(
        _file_copy_seconds(audio_chunks(audio.seed, audio.size), scratch) for _ in range(runs)
    )
    copy_seconds = statistics.median(result["seconds"] for result in copies)
    return {
        "size_mb": size_mb,
        "rss_before_mib": max(r["rss_before_kib"] for r in copies) / 1024,
        "rss_peak_mib": max(r["rss_peak_kib"] for r in copies) / 1024,
        "copy_growth_mib": max(r["rss_peak_kib"] - r["rss_before_kib"] for r in copies) / 1024,
        "load_peak_mib": max(r["load_peak_kib"] for r in copies) / 1024,
        "copy_mb_s": size_mb / copy_seconds,
        "file_copy_mb_s": size_mb / file_seconds,
        "throughput_ratio": file_seconds / copy_seconds,
    }


def _print(rows: list[dict[str, float]]) -> None:
    print(
        f"{'size':>7} {'RSS at start':>12} {'copy peak':>10} {'growth':>9} {'load peak':>10}"
        f" {'copy MB/s':>10} {'file MB/s':>10} {'ratio':>7}"
    )
    for row in rows:
        print(
            f"{row['size_mb']:>5}MB {row['rss_before_mib']:>9.1f}MiB {row['rss_peak_mib']:>7.1f}MiB"
            f" {row['copy_growth_mib']:>6.1f}MiB {row['load_peak_mib']:>7.1f}MiB"
            f" {row['copy_mb_s']:>10.1f} {row['file_copy_mb_s']:>10.1f}"
            f" {row['throughput_ratio']:>7.3f}"
        )
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    os.environ.update(FAKE_AWS)

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from round0_testkit.standins.round0_api import Round0ApiStandIn

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request log
    port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with Round0ApiStandIn() as storage, tempfile.TemporaryDirectory() as scratch:
            rows = [
                _measure(storage, s3, endpoint, size_mb, arguments.runs, Path(scratch))
                for size_mb in arguments.sizes_mb
            ]
    finally:
        moto.stop()
    _print(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
