"""A burst against rate-limited neighbours, through the local pipeline (a script, not a test).

Starts `round0-local serve` with Slack's stand-in limited to 1 message a second and
ROUND0's API stand-in to 100 requests a minute (429 with Retry-After past them), then
sends `--interviews` interviews' events as ROUND0 would after an outage of its own: each
interview one event (an `interview_ended` for half of them, an `interview_started` for
the other half: 2 x interviews events with 500 Slack messages for 500 interviews ended),
20% more sends that repeat one of them, shuffled, by 16 senders at once as fast as the
door takes them (a refused or failed send is retried as ROUND0 retries: its
Retry-After, else backoff). It then waits for every side effect and reports:
- side effects lost, doubled, and dead letters (the goal: 0, 0, 0);
- the time from the first send to the last side effect, against its floor: the larger
  of the sending time and the time the slowest limit needs (Slack: one message a second
  per interview ended); the goal is at most 1.25 times the floor;
- the most invocations each consumer ran at once (serve's report; the queues' wiring
  only);
- how Slack's stand-in saw its requests arrive, by its own clock: how many, how many it
  refused with 429, the gaps between arrivals and the accepted ones a minute, in all,
  while the senders were sending and after (`slack_pace`).

Run: `.venv/bin/python bench/burst.py [--interviews 500]` (about 15 minutes).
`--quick`: 10 interviews with the limits scaled up 10 times, to prove the bench runs.
The consumers' pace is the template's parameters (SlackMessagesPerSecond,
Round0ApiRequestsPerMinute), set to the stand-ins' limits with `serve --parameter`;
SesSendRatePerSecond is 14, a production account's rate (the issue limits Slack and ROUND0's
API only). A runner without `--parameter` (the asynchronous wiring before the queues)
runs with its own code and says so.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import expect, shuffled_with_duplicates
from round0_testkit.sender import compact, send
from round0_testkit.served import start_serve

SEND_ATTEMPTS = 12  # a ROUND0 delivery is retried with backoff, then given up on
EFFECT_CHANNELS = ("email", "slack", "ats", "s3")


def parse_rate(text: str) -> tuple[float, float]:
    """`N/s` or `N/min`: (requests, per seconds)."""
    count, _, unit = text.partition("/")
    return float(count), {"s": 1.0, "min": 60.0}[unit]


def serve_supports(flag: str) -> bool:
    """Whether this checkout's `serve` has `flag` (the wiring before the queues had no
    --parameter)."""
    helped = subprocess.run(
        [sys.executable, "-m", "round0_local.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return flag in helped.stdout


def deliver(url: str, body: bytes, session: requests.Session) -> tuple[int, int]:
    """Send one event as ROUND0 does until it is taken: (status, attempts)."""
    status = 0
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            sent = send(url, body, LOCAL_SIGNING_SECRET, session)
        except requests.RequestException:
            status = 0
        else:
            status = sent.status
            if 200 <= status < 300 or status in {400, 401, 403, 422}:
                return status, attempt
        wait = sent.retry_after if status and sent.retry_after is not None else 0.2 * 2**attempt
        time.sleep(min(wait, 30.0) * random.uniform(1.0, 1.25))
    return status, SEND_ATTEMPTS


def effect_records(outbox: Path) -> list[dict[str, Any]]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines() if line]


def succeeded(record: dict[str, Any]) -> bool:
    status = record.get("status")
    return record.get("channel") in EFFECT_CHANNELS and (status is None or 200 <= int(status) < 300)


def arguments_given() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interviews", type=int, default=500)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--slack-rate", default="1/s")
    parser.add_argument("--api-rate", default="100/min")
    parser.add_argument("--settle-timeout", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--stall-seconds", type=float, default=300.0, help="stop waiting after this long idle"
    )
    parser.add_argument("--quick", action="store_true", help="10 interviews, limits x10")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.interviews, arguments.settle_timeout, arguments.stall_seconds = 10, 300.0, 60.0
        arguments.slack_rate, arguments.api_rate = "10/s", "1000/min"
    return arguments


def main() -> int:
    arguments = arguments_given()
    slack_limit, api_limit = parse_rate(arguments.slack_rate), parse_rate(arguments.api_rate)
    parameters = {
        "SlackMessagesPerSecond": repr(slack_limit[0] / slack_limit[1]),
        "Round0ApiRequestsPerMinute": repr(api_limit[0] * 60 / api_limit[1]),
        "SesSendRatePerSecond": "14",
    }
    paced = serve_supports("--parameter")
    serve_arguments = ["--retry-delay", "0.2" if arguments.quick else "1.0"]
    if paced:
        for name, value in parameters.items():
            serve_arguments += ["--parameter", f"{name}={value}"]
    workdir = Path(tempfile.mkdtemp(prefix="round0-burst-"))
    served = start_serve(workdir, *serve_arguments, quiet=True)
    # each stand-in's limit, through its control endpoint (serve --rate-limit says the same)
    served.control(
        "slack", {"rate_limit": {"requests": slack_limit[0], "per_seconds": slack_limit[1]}}
    )
    served.control(
        "round0-api",
        {"rate_limit": {"requests": api_limit[0], "per_seconds": api_limit[1], "path": "/api"}},
    )
    unique_events = 2 * arguments.interviews
    sends, steps = shuffled_with_duplicates(
        round(unique_events / (1 - arguments.duplicates)),
        arguments.duplicates,
        random.Random(arguments.seed),
        "burst",
    )
    sessions = threading.local()

    def sender(payload: dict[str, Any]) -> tuple[int, int]:
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        return deliver(served.webhook_url, compact(payload), session)

    expected = +expect(steps).effects
    try:
        first_send = time.time()
        with ThreadPoolExecutor(max_workers=arguments.senders) as pool:
            results = list(pool.map(sender, sends))
        sending_seconds = time.time() - first_send
        deadline = time.monotonic() + arguments.settle_timeout
        seen: Counter[tuple[str, str]] = Counter()
        grown, count = time.monotonic(), -1
        while time.monotonic() < deadline:
            records = effect_records(served.outbox)
            seen = Counter((r["event_id"], r["channel"]) for r in records if succeeded(r))
            if all(seen[key] >= n for key, n in expected.items()):
                break
            if len(records) != count:
                grown, count = time.monotonic(), len(records)
            elif time.monotonic() - grown > arguments.stall_seconds:
                break  # nothing happens any more: what is missing was lost or dead-lettered
            time.sleep(2.0)
        time.sleep(3.0 if arguments.quick else 15.0)  # a double, a late dead letter, shows by then
        records = effect_records(served.outbox)
    finally:
        served.stop()
    report = judged(arguments, steps, expected, records, results, len(sends))
    report.update(
        slack_pace=pace(records, "slack", first_send, first_send + sending_seconds),
        sending_seconds=round(sending_seconds, 1),
        paced_by_parameters=parameters if paced else "not supported by this wiring",
        peak_concurrency=next(
            (
                json.loads(found.group(1))
                for line in served.output
                if (found := re.search(r"peak concurrency (\{.*\})", line))
            ),
            "not reported by this runner",
        ),
        outbox=str(served.outbox),
    )
    floor = max(sending_seconds, report["slowest_limit_seconds"])
    to_last = report["last_side_effect_at"] - first_send
    report.update(
        floor_seconds=round(floor, 1),
        first_send_to_last_side_effect_seconds=round(to_last, 1),
        ratio_to_floor=round(to_last / floor, 2),
    )
    del report["last_side_effect_at"]
    print(json.dumps(report, indent=2))
    return 0 if (report["lost"], report["doubled"], report["dead_letters"]) == (0, 0, 0) else 1


def judged(
    arguments: argparse.Namespace,
    steps: list[Any],
    expected: Counter[tuple[str, str]],
    records: list[dict[str, Any]],
    results: list[tuple[int, int]],
    sends: int,
) -> dict[str, Any]:
    """What the run did against what it should have (the timings are the caller's)."""
    slack_limit, api_limit = parse_rate(arguments.slack_rate), parse_rate(arguments.api_rate)
    seen = Counter((r["event_id"], r["channel"]) for r in records if succeeded(r))
    last_effect = max(
        (datetime.fromisoformat(r["time"]).timestamp() for r in records if succeeded(r)),
        default=0.0,
    )
    lost = sum(max(0, n - seen[key]) for key, n in expected.items())
    doubled = sum(max(0, n - expected[key]) for key, n in seen.items())
    dead_letters = sum(1 for r in records if r.get("channel") == "dead_letter")
    refused = Counter(
        f"{r['channel']} {r['status']}"
        for r in records
        if r.get("status") is not None and not 200 <= int(r["status"]) < 300
    )
    ended = sum(1 for step in steps if step.payload["type"] == "interview_ended")
    slowest_limit = max(
        ended * slack_limit[1] / slack_limit[0],  # a Slack message per interview ended
        ended * api_limit[1] / api_limit[0],  # a GET /interviews/{id} per interview ended
    )
    return {
        "interviews_ended": ended,
        "unique_events": len(steps),
        "sends": sends,
        "senders": arguments.senders,
        "limits": {"slack": arguments.slack_rate, "round0_api": arguments.api_rate},
        "webhook_statuses": dict(Counter(status for status, _ in results)),
        "send_retries": sum(attempts - 1 for _, attempts in results),
        "side_effects_expected": sum(expected.values()),
        "side_effects_observed": sum(seen.values()),
        "lost": lost,
        "doubled": doubled,
        "dead_letters": dead_letters,
        "refused_by_neighbours": dict(refused),
        "slowest_limit_seconds": round(slowest_limit, 1),
        "last_side_effect_at": last_effect,
    }


def pace(
    records: list[dict[str, Any]], channel: str, first_send: float, sending_ended: float
) -> dict[str, Any]:
    """How a neighbour saw its requests arrive (the stand-in's own clock): how many, how
    many it refused, the gaps between arrivals, and the accepted ones per minute from the
    first to the last, while the senders were sending and after."""
    arrivals = sorted(
        (float(r["arrived_at"]), int(r["status"]))
        for r in records
        if r.get("channel") == channel and r.get("arrived_at")
    )
    if len(arrivals) < 2:
        return {"requests": len(arrivals)}
    gaps = sorted(later[0] - earlier[0] for earlier, later in itertools.pairwise(arrivals))
    accepted = [at for at, status in arrivals if 200 <= status < 300]
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    return {
        "requests": len(arrivals),
        "refused_429": sum(1 for _, status in arrivals if status == 429),
        "gap_seconds": {
            "min": round(gaps[0], 3),
            "p5": round(gaps[len(gaps) * 5 // 100], 3),
            "median": round(statistics.median(gaps), 3),
        },
        "accepted_per_minute": round((len(accepted) - 1) * 60 / span, 1) if span else None,
        "accepted_per_minute_while_sending": per_minute(accepted, first_send, sending_ended),
        "accepted_per_minute_after_sending": per_minute(accepted, sending_ended, accepted[-1]),
    }


def per_minute(times: list[float], start: float, end: float) -> float | None:
    """How many of `times` fall in [start, end), a minute."""
    if end <= start:
        return None
    return round(sum(1 for at in times if start <= at < end) * 60 / (end - start), 1)


if __name__ == "__main__":
    sys.exit(main())
