"""The product's promise on a bad day: nothing lost, nothing doubled (a script, not a test).

Runs `round0-local serve --chaos RATE` (faults in every AWS call of every function, in
the stand-ins, and workers killed half-way) and sends N events through its webhook
(default 1,000: 20% duplicates, shuffled; each unique event its own interview, half
`interview_started`, half `interview_ended` with two answers) as ROUND0 does: a
non-2xx answer or no answer is retried with backoff (Retry-After honoured), at most
MAX_ATTEMPTS times. Then it waits for the pipeline to drain and reports:

- side effects lost (expected, not observed), split into dead-lettered (the event is
  in a dead-letter queue with its reason: an operator's redrive brings it back) and
  silently lost (the goal for both is 0);
- side effects doubled, split by cause (`round0_testkit.scenario.judge`): an ambiguous
  outcome on a channel with no idempotency key (an email or a Slack post whose answer
  was lost, or whose worker was killed after sending), the same on a channel that
  sends one (the ATS webhook's X-Round0-Event-Id: the receiver de-duplicates), and
  anything else (a bug, listed with the faults its event met);
- interview states correct at the end (read from the stack's EventsTable);
- dead letters with their reasons; time to drain;
- and the same run without chaos, for the time the chaos adds.

Run: `.venv/bin/python bench/chaos.py [--events 1000] [--rate 0.2] [--chaos-seed 7]`
(`--quick`: 4 events, no baseline, short waits; it proves the bench still runs and
judges nothing: its exit status is 0 once the report is printed)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from round0.event_store import event_key
from round0.state_store import InterviewStates
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import Step, counted, expect, judge, shuffled_with_duplicates
from round0_testkit.sender import compact, send
from round0_testkit.served import Served, start_serve
from round0_testkit.template import load_template

MAX_ATTEMPTS = 12  # ROUND0 stops retrying at some point; bounded here
BACKOFF_SECONDS = (1, 2, 4, 8, 15, 30)
QUIET_SECONDS = 20.0  # nothing new in the outbox or the chaos log for this long: drained
# (time to drain: from the last webhook answer to the last side effect)


@dataclass(frozen=True)
class Delivered:
    event_id: str
    attempts: int
    statuses: tuple[int, ...]
    ok: bool


def deliver(
    url: str, payload: dict[str, Any], session: requests.Session, max_wait: float = 30.0
) -> Delivered:
    """POST as ROUND0 does, retrying a non-2xx answer (or none) with backoff (at most
    `max_wait` seconds between sends)."""
    statuses: list[int] = []
    for attempt in range(MAX_ATTEMPTS):
        try:
            sent = send(url, compact(payload), LOCAL_SIGNING_SECRET, session, timeout=15)
            status, retry_after = sent.status, sent.retry_after
        except requests.RequestException:
            status, retry_after = 0, None
        statuses.append(status)
        if 200 <= status < 300:
            return Delivered(payload["id"], attempt + 1, tuple(statuses), ok=True)
        backoff = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
        time.sleep(min(retry_after if retry_after is not None else backoff, max_wait))
    return Delivered(payload["id"], MAX_ATTEMPTS, tuple(statuses), ok=False)


def wait_drained(served: Served, timeout: float, quiet: float = QUIET_SECONDS) -> None:
    """Wait (bounded) until the consumers' queues are empty and the outbox and the chaos
    log stop growing for `quiet` s."""
    if not served.wait_quiet(quiet, timeout):
        print(f"still busy after {timeout:g} s", file=sys.stderr)


def last_effect_at(served: Served) -> float:
    """When the last side effect (or dead letter) was recorded (epoch seconds)."""
    times = [datetime.fromisoformat(r["time"]).timestamp() for r in served.outbox_records()]
    return max(times, default=0.0)


def interview_states(served: Served, table: str, steps: list[Step]) -> tuple[int, int]:
    """(correct, total): each interview's state in the EventsTable against the events sent."""
    states = InterviewStates(table, served.client("dynamodb"))
    correct = 0
    for step in steps:
        data = step.payload["data"]
        wanted = "COMPLETED" if step.payload["type"] == "interview_ended" else "IN_PROGRESS"
        state = states.get(data["interview"]["id"])
        correct += state is not None and state.status.name == wanted
    return correct, len(steps)


def run(arguments: argparse.Namespace, rate: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"round0-chaos-{rate:g}-"))
    chaos = ["--chaos", str(rate), "--chaos-seed", str(arguments.chaos_seed)] if rate else []
    quick = ["--retry-delay", "0.2"] if arguments.quick else []
    # a killed consumer's events come back once its deadline passed (as SQS's visibility
    # timeout does), when the idempotency marks it held are free: a short Timeout keeps
    # the run short (deployed: 30 s, 600 s, 60 s)
    document = load_template()
    for function in ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction"):
        document["Resources"][function]["Properties"]["Timeout"] = 20
    template = workdir / "template.json"
    template.write_text(json.dumps(document))
    served = start_serve(
        workdir,
        "--concurrency", str(arguments.lambda_concurrency),
        "--template", str(template),
        *chaos, *quick,
        quiet=True,
    )  # fmt: skip
    sends, steps = shuffled_with_duplicates(
        arguments.events, arguments.duplicates, random.Random(arguments.seed), "x"
    )
    local = threading.local()

    def one(payload: dict[str, Any]) -> Delivered:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        return deliver(served.webhook_url, payload, session, 1.0 if arguments.quick else 30.0)

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=arguments.concurrency) as pool:
            delivered = list(pool.map(one, sends))
        sent_seconds = time.perf_counter() - started
        answered_at = time.time()
        wait_drained(served, arguments.settle_timeout, 3.0 if arguments.quick else QUIET_SECONDS)
        drained = max(0.0, last_effect_at(served) - answered_at)
        table = served.outputs()["EventsTableName"]
        states_correct, states_total = interview_states(served, table, steps)
        dynamodb = served.client("dynamodb")
        records_published = sum(
            dynamodb.get_item(TableName=table, Key=event_key(step.payload["id"]))
            .get("Item", {})
            .get("status", {})
            .get("S")
            == "published"
            for step in steps
        )
    finally:
        exit_status = served.stop()
    outbox, chaos_log = served.outbox_records(), served.chaos_records()
    expectation = expect(steps)
    seen = counted(outbox)
    verdict = judge(expectation, outbox, chaos_log)
    dead_letters = Counter(
        f"{r['function']}: {r['condition']} {r['reason'].split(':', 1)[0]}".strip()
        for r in verdict.dead_letters
    )
    unexplained = {
        f"{event_id} {channel}": {
            "extra": extra,
            "faults": sorted(
                {
                    f"{f['scope']} {f['target']} {f.get('operation') or ''} {f['kind']}".strip()
                    for f in chaos_log
                    if f["event_id"] == event_id
                }
            ),
        }
        for (event_id, channel), extra in verdict.doubled_unexplained.items()
    }
    return {
        "chaos_rate": rate,
        "chaos_seed": arguments.chaos_seed if rate else None,
        "events_sent": len(sends),
        "unique_events": len(steps),
        "webhook_final_statuses": dict(Counter(d.statuses[-1] for d in delivered)),
        "webhook_attempts": dict(sorted(Counter(d.attempts for d in delivered).items())),
        "events_never_accepted": sum(not d.ok for d in delivered),
        "sending_seconds": round(sent_seconds, 1),
        "drained_after_last_answer_s": round(drained, 1),
        "side_effects_expected": expectation.effects.total(),
        "side_effects_observed": sum(n for (_, c), n in seen.items() if c != "dead_letter"),
        "lost_and_doubled": verdict.totals(),
        "doubled_by_channel": {
            name: dict(Counter(channel for (_, channel) in counts.elements()))
            for name, counts in (
                ("ambiguous", verdict.doubled_ambiguous),
                ("after_failed_attempt", verdict.doubled_after_failed_attempt),
                ("killed_after_effect", verdict.killed_after_effect),
                ("keyed", verdict.doubled_keyed),
                ("unexplained", verdict.doubled_unexplained),
            )
            if counts
        },
        "unexplained_doubles": unexplained,
        "interview_states_correct": f"{states_correct}/{states_total}",
        "event_records_published": f"{records_published}/{len(steps)}",
        "dead_letters": dict(dead_letters),
        "faults_injected": dict(Counter(f"{r['scope']} {r['kind']}" for r in chaos_log)),
        "serve_exit_status": exit_status,
        "serve_summary": [line.rstrip() for line in served.output if line.startswith("chaos")],
        "workdir": str(workdir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8, help="senders at once")
    parser.add_argument("--lambda-concurrency", type=int, default=4, help="serve --concurrency")
    parser.add_argument("--rate", type=float, default=0.2, help="serve --chaos")
    parser.add_argument("--chaos-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7, help="the events' shuffle")
    parser.add_argument("--settle-timeout", type=float, default=1800.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without chaos")
    parser.add_argument("--quick", action="store_true", help="4 events, short waits, no verdict")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.events, arguments.concurrency, arguments.no_baseline = 4, 4, True
        arguments.settle_timeout = 120.0
    report = {"chaos": run(arguments, arguments.rate)}
    if not arguments.no_baseline:
        report["baseline"] = run(arguments, 0.0)
        with_chaos, without = report["chaos"], report["baseline"]
        report["time_added_by_chaos"] = {
            "sending_x": round(with_chaos["sending_seconds"] / without["sending_seconds"], 2),
            "drain_s": round(
                with_chaos["drained_after_last_answer_s"] - without["drained_after_last_answer_s"],
                1,
            ),
        }
    print(json.dumps(report, indent=2))
    if arguments.quick:
        return 0  # it ran to its end: a few events judge nothing
    chaos = report["chaos"]
    correct, total = chaos["interview_states_correct"].split("/")
    ok = (
        not chaos["lost_and_doubled"]["lost silently"]
        and not chaos["lost_and_doubled"]["doubled, unexplained (a bug)"]
        and correct == total
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
