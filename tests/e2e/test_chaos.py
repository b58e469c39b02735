"""The pipeline on a bad day, end to end: `serve --chaos` with a fixed seed (bounded, quick).

Faults in the functions' AWS calls and in the stand-ins, workers killed half-way,
consumers running several invocations at once. ROUND0 sends again what is not
answered 2xx. Nothing may be lost without a dead letter saying why, nothing doubled
unless the chaos made its outcome ambiguous, and every interview's state must be right.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from round0.event_store import EventStore
from round0.state_store import InterviewStates
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import Step, expect, judge, renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served, start_serve
from round0_testkit.template import load_template

pytestmark = pytest.mark.e2e
SEED = 11
MAX_SENDS = 40  # ROUND0's retries, bounded
MAX_WAIT_SECONDS = 3.0  # between them (Retry-After honoured up to this)


# An event whose publish failed is acknowledged (202 stored) and published by the
# sweeper: in this run it sweeps every minute what waited 5 s, after a 5 s backoff
# (deployed: every 2 minutes, what waited 120 s, after 60 s doubling).
QUICK_SWEEP = {"SWEEP_AFTER_SECONDS": "5", "PUBLISH_BACKOFF_SECONDS": "5"}
SETTLE_TIMEOUT = 420.0
CONSUMERS = ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction")
CHAOS_CONSUMER_TIMEOUT = 20


@pytest.fixture(scope="module")
def chaotic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("chaos")
    document = load_template()
    document["Parameters"]["SweepSchedule"]["Default"] = "rate(1 minute)"
    for function in ("IngestFunction", "SweeperFunction"):
        variables = document["Resources"][function]["Properties"]["Environment"]["Variables"]
        variables.update(QUICK_SWEEP)
    # a killed consumer's events come back once its deadline passed (SQS: its visibility
    # timeout), when the idempotency marks it held are free: a short Timeout keeps that
    # quick (deployed: 30 s, 600 s, 60 s)
    for function in CONSUMERS:
        document["Resources"][function]["Properties"]["Timeout"] = CHAOS_CONSUMER_TIMEOUT
    template = workdir / "template.json"
    template.write_text(json.dumps(document))
    served = start_serve(
        workdir,
        "--retry-delay", "0.2",
        "--chaos", "0.3", "--chaos-seed", str(SEED), "--chaos-kill-rate", "0.15",
        "--template", str(template),
    )  # fmt: skip
    yield served
    assert served.stop() == 0
    assert any(line.startswith("chaos: ") for line in served.output)  # the summary
    # faults or not, every call the functions made is one their roles allow
    report = served.access()
    assert not report.refused, report.text()


def until_accepted(served: Served, payload: dict[str, Any]) -> list[int]:
    """Send as ROUND0 does: again after any answer but 2xx (or none), bounded."""
    statuses = []
    with requests.Session() as session:
        for _ in range(MAX_SENDS):
            try:
                sent = send(served.webhook_url, compact(payload), LOCAL_SIGNING_SECRET, session)
                status, wait = sent.status, sent.retry_after
            except requests.RequestException:
                status, wait = 0, None
            statuses.append(status)
            if 200 <= status < 300:
                return statuses
            time.sleep(min(wait if wait is not None else 1.0, MAX_WAIT_SECONDS))
    return statuses


def test_nothing_is_lost_or_doubled_without_a_reason_and_every_state_is_right(
    chaotic: Served,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    payloads = [
        renamed(seed("interview_ended.json" if n % 2 else "interview_started.json"), f"{suffix}{n}")
        for n in range(6)
    ]
    rng = random.Random(SEED)
    sends = payloads + [rng.choice(payloads) for _ in range(2)]  # duplicates, racing
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda payload: until_accepted(chaotic, payload), sends))
    assert all(200 <= statuses[-1] < 300 for statuses in answers), answers
    # every event kept is published, by its delivery or by the sweeper
    store = EventStore(chaotic.outputs()["EventsTableName"], chaotic.client("dynamodb"))
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while store.pending(limit=10) and time.monotonic() < deadline:
        time.sleep(2.0)
    assert store.pending(limit=10) == [], "the sweeper left events unpublished"
    # every consumer's queue empty (a killed invocation's messages come back after its
    # deadline, up to ConsumerMaxReceives times) and nothing written for a while
    assert chaotic.wait_quiet(quiet_seconds=8.0, timeout=SETTLE_TIMEOUT), chaotic.queued()

    verdict = judge(
        expect(Step("chaos", p) for p in payloads),
        chaotic.outbox_records(),
        chaotic.chaos_records(),
    )
    assert verdict.lost_silently == Counter()
    assert verdict.doubled_unexplained == Counter()
    assert all(record["reason"] for record in verdict.dead_letters)
    table = chaotic.outputs()["EventsTableName"]
    states = InterviewStates(table, chaotic.client("dynamodb"))
    for payload in payloads:
        state = states.get(payload["data"]["interview"]["id"])
        wanted = "COMPLETED" if payload["type"] == "interview_ended" else "IN_PROGRESS"
        assert state is not None
        assert state.status.name == wanted
    # the chaos did happen, in the AWS calls and the stand-ins, and was printed
    faults = chaotic.chaos_records()
    assert {"aws", "standin"} <= {fault["scope"] for fault in faults}
    assert {"throttle", "server_error", "lost_answer"} <= {fault["kind"] for fault in faults}
    assert printed(chaotic, {fault["seq"] for fault in faults})


def printed(served: Served, numbers: set[int]) -> bool:
    """Wait (bounded) until serve has printed the chaos line of each fault in `numbers`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in list(served.output) if "☇ chaos" in line]
        if numbers <= {int(line.split("#", 1)[1].split()[0]) for line in lines}:
            return True
        time.sleep(0.2)
    return False
