"""Benchmark the local pipeline (a script, not a test).

Starts `round0-local serve` on free ports, sends N events through its webhook
(default 1,000: 20% duplicates, shuffled; each unique event is its own interview, half
`interview_started`, half `interview_ended` with two answers), then waits for the
consumers and counts the side effects in the outbox against those expected.

Prints throughput, p50 and p99 of the time to the webhook's answer, and the side
effects expected and observed (they must be equal; the exit status says so).

Run: `.venv/bin/python bench/pipeline.py [--events 1000] [--concurrency 8]
[--lambda-concurrency 4]` (senders at once; concurrent executions per function).
`--quick`: 4 events, to prove the bench still runs (its figures mean nothing; the side
effects must still be equal).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import expect, observed, shuffled_with_duplicates
from round0_testkit.sender import compact, send
from round0_testkit.served import start_serve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lambda-concurrency", type=int, default=4, help="serve --concurrency")
    parser.add_argument("--quick", action="store_true", help="4 events, 2 senders")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.events, arguments.concurrency, arguments.settle_timeout = 4, 2, 120.0
    workdir = Path(tempfile.mkdtemp(prefix="round0-bench-"))
    quick = ["--retry-delay", "0.2"] if arguments.quick else []
    served = start_serve(
        workdir, "--concurrency", str(arguments.lambda_concurrency), *quick, quiet=True
    )
    url, outbox = served.webhook_url, served.outbox
    sends, steps = shuffled_with_duplicates(
        arguments.events, arguments.duplicates, random.Random(arguments.seed), "b"
    )
    session_local = threading.local()

    def deliver(payload: dict[str, Any]) -> tuple[float, str]:
        session = getattr(session_local, "session", None) or requests.Session()
        session_local.session = session
        total = 0.0
        for _ in range(50):  # a 409 (same event in flight) is retried, as ROUND0 would
            sent = send(url, compact(payload), LOCAL_SIGNING_SECRET, session)
            total += sent.seconds
            if sent.status != 409:
                outcome = json.loads(sent.body).get("status", "") if sent.status == 200 else ""
                return sent.seconds, f"{sent.status} {outcome}".strip()
            time.sleep(0.05)
        return total, "409"

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=arguments.concurrency) as pool:
            results = list(pool.map(deliver, sends))
        elapsed = time.perf_counter() - started
        statuses = Counter(status for _, status in results)
        latencies = sorted(seconds for seconds, _ in results)
        expected = +expect(steps).effects
        deadline = time.monotonic() + arguments.settle_timeout
        settle_started = time.perf_counter()
        while time.monotonic() < deadline:
            seen = observed(outbox)
            if all(seen[key] >= n for key, n in expected.items()):
                break
            time.sleep(1.0)
        time.sleep(0.5 if arguments.quick else 3.0)  # anything more (a double) shows by then
        seen = observed(outbox)
        settle = time.perf_counter() - settle_started
    finally:
        served.stop()
    expected_total, observed_total = sum(expected.values()), sum(seen.values())
    report = {
        "events_sent": len(sends),
        "unique_events": len(steps),
        "concurrency": arguments.concurrency,
        "lambda_concurrency": arguments.lambda_concurrency,
        "webhook_statuses": dict(statuses),
        "throughput_events_per_s": round(len(sends) / elapsed, 1),
        "answer_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "answer_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "side_effects_expected": expected_total,
        "side_effects_observed": observed_total,
        "side_effects_by_channel_expected": dict(
            Counter(c for (_, c), n in expected.items() for _ in range(n))
        ),
        "side_effects_by_channel_observed": dict(
            Counter(c for (_, c), n in seen.items() for _ in range(n))
        ),
        "equal": expected == seen,
        "consumers_drained_after_s": round(settle, 1),
        "outbox": str(outbox),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
