"""Benchmark the archive's audio copy (a script, not a test): memory and throughput.

For each size (1, 20 and 200 MB by default) two copies of the same answer's audio run in
pairs, each in a fresh child process, from the ROUND0 stand-in's audio storage on
127.0.0.1 into S3 played by a moto server on 127.0.0.1 (a thread of this parent
process, so the bytes moto keeps do not count against either copy):

- ours: the real `Archiver.copy_audio` (allowlist, streamed download, SHA-256, multipart
  upload in 8 MiB parts, two parts sent while the next is read);
- the plain way, as a user would write it: `requests.get(url, stream=True)` and boto3's
  `s3.upload_fileobj(response.raw, bucket, key)` (s3transfer's defaults: 8 MiB parts,
  up to 10 uploaded at once).

1. Peak memory: the child's resident set (Linux `/proc/self/status`). Once the code
   is loaded and the clients exist, the high-water mark is reset (`clear_refs` 5);
   `VmRSS` then is the start, `VmHWM` after the copy its peak, and the difference is
   what the copy itself needed. The peak while loading (before the reset, mostly
   botocore's service models) is shown too. Not `ru_maxrss`: on Linux it keeps the
   parent's peak across fork+exec, and this parent holds moto's copies of the files.
   RSS of a fresh process, not tracemalloc: tracemalloc sees Python allocations only
   (not OpenSSL's, zlib's or the socket buffers) and slows the copy it measures.
2. Throughput: bytes / wall time of each copy, and ours / the plain way's, the median
   of the pairs (the two alternate which goes first). Each child first copies a small
   answer (64 KB) its own way, as an archive run copies several: what a process pays
   once (its first request builds caches: connection pools, botocore's endpoint and
   checksum state, and in a process that imported pydantic and Powertools some 30 ms of
   the ABC subclass checks behind `requests`' first `isinstance(x, Mapping)`) is a cold
   start's, counted by `bench/cold_start.py`'s import + first request, not a copy's.
   That first small copy's time is shown too (`first 64KB`, ours / plain).

Each copy is checked: the stored object has the source's size and SHA-256.

Run: `.venv/bin/python bench/archive_copy.py` (`--sizes-mb 1 20 200`, `--runs 3` pairs;
`--part-size-mb` sets the plain way's part size and concurrency limit is `--concurrency`;
`--quick`: one pair at 1 and 9 MB, no figure to trust, only proof the bench still runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000
WARM_UP_BYTES = 64 * 1024  # each child's first copy: a small answer
BUCKET = "bench-archive"
REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
}

MEMORY = """
import re

def status_kib(field):
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\\s+(\\d+)", status.read()).group(1))

def reset_peak():
    # forget the peak of the imports (botocore's service models): from here on the
    # high-water mark is the copy's own
    load_peak = status_kib("VmHWM")
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return load_peak
"""

OURS = (
    MEMORY
    + """
import json, sys, time
import boto3
from round0.http import Timeouts
from round0_archive.audio import AudioAllowlist, AudioLimits, AudioSource
from round0_archive.bucket import ArchiveBucket
from round0_archive.service import Archiver

url, endpoint, origin, key, warm_url, warm_key = sys.argv[1:7]
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
started = time.perf_counter()
archiver.copy_audio(warm_key, warm_url, {"interview-id": "bench"}, time_left=lambda: 900.0)
first_seconds = time.perf_counter() - started
load_peak = reset_peak()
before = status_kib("VmRSS")
started = time.perf_counter()
outcome = archiver.copy_audio(key, url, {"interview-id": "bench"}, time_left=lambda: 900.0)
seconds = time.perf_counter() - started
print(json.dumps({"outcome": outcome.value, "seconds": seconds, "rss_before_kib": before,
                  "rss_peak_kib": status_kib("VmHWM"), "load_peak_kib": load_peak,
                  "first_seconds": first_seconds}))
"""
)

# What a user would write: stream the download straight into boto3's managed upload.
PLAIN = (
    MEMORY
    + """
import json, sys, time
import boto3, requests
from boto3.s3.transfer import TransferConfig

url, endpoint, origin, key, warm_url, warm_key, part_mb, concurrency = sys.argv[1:9]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.list_buckets()
config = TransferConfig(multipart_chunksize=int(part_mb) * 1024 * 1024,
                        max_concurrency=int(concurrency))

def copy(url, key):
    with requests.get(url, stream=True, timeout=(3.0, 30.0)) as response:
        response.raise_for_status()
        s3.upload_fileobj(response.raw, "bench-archive", key, Config=config)

started = time.perf_counter()
copy(warm_url, warm_key)
first_seconds = time.perf_counter() - started
load_peak = reset_peak()
before = status_kib("VmRSS")
started = time.perf_counter()
copy(url, key)
seconds = time.perf_counter() - started
print(json.dumps({"outcome": "copied", "seconds": seconds, "rss_before_kib": before,
                  "rss_peak_kib": status_kib("VmHWM"), "load_peak_kib": load_peak,
                  "first_seconds": first_seconds}))
"""
)


def _child_copy(code: str, args: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(FAKE_AWS)
    env["POWERTOOLS_SERVICE_NAME"] = "bench"
    output = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _summary(copies: list[dict[str, Any]], size_mb: int) -> dict[str, float]:
    return {
        "rss_before_mib": max(r["rss_before_kib"] for r in copies) / 1024,
        "rss_peak_mib": max(r["rss_peak_kib"] for r in copies) / 1024,
        "growth_mib": max(r["rss_peak_kib"] - r["rss_before_kib"] for r in copies) / 1024,
        "load_peak_mib": max(r["load_peak_kib"] for r in copies) / 1024,
        "mb_s": size_mb / statistics.median(r["seconds"] for r in copies),
    }


def _measure(
    storage: Any,
    s3: Any,
    endpoint: str,
    size_mb: int,
    runs: int,
    plain_options: list[str],
) -> dict[str, Any]:
    """Copy one `size_mb` answer in `runs` pairs (ours, the plain way), each in a fresh
    child, alternating which goes first; check every stored copy."""
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

    warm_id = "bench-first-64kb"
    warm = load_bus_event("interview_ended.json")["detail"]
    warm["data"]["interview"]["id"] = warm_id
    warm["data"]["responses"] = warm["data"]["responses"][:1]
    storage.register_interview(warm, audio_size=WARM_UP_BYTES)

    def copy(way: str, run: int) -> dict[str, Any]:
        url = storage.results_document(interview_id)["responses"][0]["audio_url"]
        warm_url = storage.results_document(warm_id)["responses"][0]["audio_url"]
        key = f"interviews/{interview_id}/question_{question_id}-{way}-{run}.mp3"
        warm_key = f"interviews/{warm_id}/{way}-{size_mb}-{run}.mp3"
        args = [url, endpoint, storage.origin, key, warm_url, warm_key]
        result = (
            _child_copy(OURS, args) if way == "ours" else _child_copy(PLAIN, args + plain_options)
        )
        assert result["outcome"] == "copied", result
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(MB):
            digest.update(chunk)
        assert digest.hexdigest() == expected.hexdigest(), f"{way}: stored bytes differ"
        s3.delete_object(Bucket=BUCKET, Key=key)
        return result

    ours, plain, ratios, first_ratios = [], [], [], []
    for run in range(runs):
        order = ("ours", "plain") if run % 2 == 0 else ("plain", "ours")
        pair = {way: copy(way, run) for way in order}
        ours.append(pair["ours"])
        plain.append(pair["plain"])
        ratios.append(pair["plain"]["seconds"] / pair["ours"]["seconds"])
        first_ratios.append(pair["plain"]["first_seconds"] / pair["ours"]["first_seconds"])
    return {
        "size_mb": size_mb,
        "ours": _summary(ours, size_mb),
        "plain": _summary(plain, size_mb),
        "throughput_ratio": statistics.median(ratios),
        "first_copy_ratio": statistics.median(first_ratios),
    }


def _print(rows: list[dict[str, Any]], runs: int) -> None:
    print(f"median of {runs} pairs; memory: the largest of the runs")
    print(
        f"{'size':>7} {'RSS at start':>12} {'ours peak':>10} {'growth':>8} {'plain peak':>11}"
        f" {'growth':>8} {'ours MB/s':>10} {'plain MB/s':>11} {'ours/plain':>11}"
        f" {'first 64KB':>11}"
    )
    for row in rows:
        ours, plain = row["ours"], row["plain"]
        cells = [
            f"{row['size_mb']:>5}MB",
            f"{ours['rss_before_mib']:>9.1f}MiB",
            f"{ours['rss_peak_mib']:>7.1f}MiB",
            f"{ours['growth_mib']:>5.1f}MiB",
            f"{plain['rss_peak_mib']:>8.1f}MiB",
            f"{plain['growth_mib']:>5.1f}MiB",
            f"{ours['mb_s']:>10.1f}",
            f"{plain['mb_s']:>11.1f}",
            f"{row['throughput_ratio']:>11.3f}",
            f"{row['first_copy_ratio']:>11.3f}",
        ]
        print(" ".join(cells))
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--runs", type=int, default=3, help="pairs per size")
    parser.add_argument("--part-size-mb", type=int, default=8, help="the plain way's part size")
    parser.add_argument("--concurrency", type=int, default=10, help="the plain way's uploads")
    parser.add_argument(
        "--quick", action="store_true", help="one pair at 1 MB and at 9 MB (multipart)"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.sizes_mb, arguments.runs = [1, 9], 1
    os.environ.update(FAKE_AWS)
    plain_options = [str(arguments.part_size_mb), str(arguments.concurrency)]

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from round0_testkit.served import free_port
    from round0_testkit.standins.round0_api import Round0ApiStandIn

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request log
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with Round0ApiStandIn() as storage:
            rows = [
                _measure(storage, s3, endpoint, size_mb, arguments.runs, plain_options)
                for size_mb in arguments.sizes_mb
            ]
    finally:
        moto.stop()
    _print(rows, arguments.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
