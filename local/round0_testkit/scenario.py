"""What the pipeline should do with a sequence of ROUND0 events, and whether it did.

The expectations follow the product's rules, not a recording of a run:
- `interview_started`: one hiring-manager email and one ATS update, unless the
  interview had already completed when it arrived (a late start): nothing.
- `interview_ended`: one Slack message, one ATS update, and in the archive
  `transcript.json`, `transcript.md` and one audio object per answer with audio.
- a test event from ROUND0's dashboard: the notifications only (marked as a test); the
  archive and the ATS skip it, as ROUND0's API and the ATS know no test interview.
- a duplicate, a rejected request, an unknown type: nothing.
Outbox lines are counted per (event id, channel); a stand-in request counts only if
it was answered 2xx, and any dead letter is unexpected.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from round0_testkit.events import PAYLOADS_DIR, WRONG_SECRET

CHANNELS = ("email", "slack", "ats", "s3", "dead_letter")


@dataclass(frozen=True)
class Step:
    label: str
    payload: dict[str, Any]
    expected_status: int = 200
    secret: str | None = None  # None: the pipeline's secret


@dataclass
class Expectation:
    effects: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, event_id: str, channel: str, count: int = 1) -> None:
        self.effects[(event_id, channel)] += count


def seed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8"))
    return document


def renamed(document: dict[str, Any], suffix: str) -> dict[str, Any]:
    """A copy of a seed event for another interview (ids made unique by `suffix`)."""
    copied = copy.deepcopy(document)
    copied["id"] = f"{copied['id']}_{suffix}"
    copied["data"]["interview"]["id"] = f"{copied['data']['interview']['id']}-{suffix}"
    return copied


def shuffled_with_duplicates(
    count: int, duplicates: float, rng: random.Random, suffix: str
) -> tuple[list[dict[str, Any]], list[Step]]:
    """`count` sends of new interviews (started and ended alternately, ids made unique by
    `suffix` and a number), a `duplicates` share of them repeats of others, shuffled by
    `rng`; and the steps whose effects are expected (each event once)."""
    unique = round(count * (1 - duplicates))
    payloads = [
        renamed(seed("interview_started.json" if n % 2 else "interview_ended.json"), f"{suffix}{n}")
        for n in range(unique)
    ]
    sends = payloads + [rng.choice(payloads) for _ in range(count - unique)]
    rng.shuffle(sends)
    return sends, [Step("bench", payload) for payload in payloads]


def demo_steps() -> list[Step]:
    started, ended = seed("interview_started.json"), seed("interview_ended.json")
    late_ended, late_started = renamed(ended, "ooo"), renamed(started, "ooo")
    return [
        Step("interview_started", started),
        Step("interview_ended (2 answers)", ended),
        Step("dashboard test event", seed("dashboard_test_event.json")),
        Step("duplicate interview_started", started),
        Step("out of order: interview_ended first", late_ended),
        Step("out of order: interview_started late", late_started),
        Step("bad signature", started, expected_status=401, secret=WRONG_SECRET),
    ]


def expect(steps: Iterable[Step]) -> Expectation:
    expectation = Expectation()
    seen: set[str] = set()
    completed: set[str] = set()
    for step in steps:
        event = step.payload
        if step.expected_status != 200 or event["id"] in seen:
            continue
        seen.add(event["id"])
        interview_id = event["data"]["interview"]["id"]
        if event["id"].startswith("evt_test_") or interview_id == "test-interview-id":
            expectation.add(event["id"], "slack" if event["type"] == "interview_ended" else "email")
            continue
        if event["type"] == "interview_started" and interview_id not in completed:
            expectation.add(event["id"], "email")
            expectation.add(event["id"], "ats")
        elif event["type"] == "interview_ended":
            completed.add(interview_id)
            responses = event["data"].get("responses") or []
            expectation.add(event["id"], "slack")
            expectation.add(event["id"], "ats")
            with_audio = sum(1 for response in responses if response.get("audio_url"))
            expectation.add(event["id"], "s3", 2 + with_audio)
    return expectation


def observed(outbox: Path) -> Counter[tuple[str, str]]:
    if not outbox.exists():
        return Counter()
    lines = outbox.read_text(encoding="utf-8").splitlines()
    return counted(json.loads(line) for line in lines if line)


@dataclass(frozen=True)
class Comparison:
    rows: list[tuple[str, str, int, int]]  # event id, channel, expected, observed

    @property
    def ok(self) -> bool:
        return all(expected == seen for _, _, expected, seen in self.rows)


def compare(expected: Expectation, seen: Counter[tuple[str, str]]) -> Comparison:
    keys = sorted(set(expected.effects) | set(seen))
    return Comparison(
        [
            (event_id, channel, expected.effects[(event_id, channel)], seen[(event_id, channel)])
            for event_id, channel in keys
        ]
    )


def counted(records: Iterable[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Outbox records counted per (event id, channel), as `observed` counts them."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in records:
        status = record.get("status")
        if record["channel"] == "alarm" or (status is not None and not 200 <= int(status) < 300):
            continue  # an alarm's notification is no event's side effect
        counts[(record["event_id"], record["channel"])] += 1
    return counts


# ---------------------------------------------------------------- a bad day (serve --chaos)
# Each channel's function, and the faults that leave a side effect's outcome ambiguous
# to it (it cannot know the effect happened): an AWS call of the channel whose answer
# was lost, a stand-in's answer broken off after the request was handled.
CHANNEL_OWNERS: dict[str, tuple[str, set[tuple[str, str]], str | None]] = {
    "email": ("NotifyFunction", {("ses", "SendEmail")}, None),
    "slack": ("NotifyFunction", set(), "slack"),
    "ats": ("AtsSyncFunction", set(), "ats"),
    "s3": ("ArchiveFunction", {("s3", "PutObject"), ("s3", "CompleteMultipartUpload")}, None),
}
# channels whose requests carry an idempotency key (the ATS webhook's X-Round0-Event-Id)
KEYED_CHANNELS = {"ats"}


@dataclass
class Verdict:
    """What a run did against what it should have: losses and doubles, by cause.

    A double is explained when the invocation that did the side effect could not know
    it had: its answer was lost or broken, it failed and released its mark, and it or
    another delivery of the event did it again (`ambiguous`); or one of its attempts
    failed after the side effect and before its done-mark was written (its worker
    killed, the idempotency table failing) and Lambda's retry, under the same request
    id, or a later delivery did it again (`after_failed_attempt`: at least once, by
    design). On a channel that sends an idempotency key the receiver drops the repeat
    (`keyed`). Any other double (two invocations that both did it, with nothing to
    make either unsure) is unexplained: a bug.
    """

    lost_dead_lettered: Counter[tuple[str, str]] = field(default_factory=Counter)
    lost_silently: Counter[tuple[str, str]] = field(default_factory=Counter)
    doubled_ambiguous: Counter[tuple[str, str]] = field(default_factory=Counter)
    doubled_after_failed_attempt: Counter[tuple[str, str]] = field(default_factory=Counter)
    doubled_keyed: Counter[tuple[str, str]] = field(default_factory=Counter)
    doubled_unexplained: Counter[tuple[str, str]] = field(default_factory=Counter)
    killed_after_effect: Counter[tuple[str, str]] = field(default_factory=Counter)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            "lost, dead-lettered (a redrive brings them back)": self.lost_dead_lettered.total(),
            "lost silently": self.lost_silently.total(),
            "doubled, ambiguous outcome on a channel with no idempotency key"
            " (answer lost or broken, sent again)": self.doubled_ambiguous.total(),
            "doubled, an attempt failed after the side effect, before its done-mark"
            " (Lambda's retry did it again)": self.doubled_after_failed_attempt.total(),
            "  of which the worker was killed": self.killed_after_effect.total(),
            "doubled, with an idempotency key the receiver de-duplicates on": (
                self.doubled_keyed.total()
            ),
            "doubled, unexplained (a bug)": self.doubled_unexplained.total(),
        }


def _answer_lost(channel: str, faults: list[dict[str, Any]]) -> bool:
    owner, calls, standin = CHANNEL_OWNERS.get(channel, ("?", set(), None))
    return any(
        (fault["scope"] == "standin" and fault["target"] == standin
            and fault["kind"] == "broken_body")
        or (fault["scope"] == "aws" and fault["target"] == owner
            and fault["kind"] == "lost_answer"
            and (fault.get("service"), fault.get("operation")) in calls)
        for fault in faults
    )  # fmt: skip


def judge(
    expectation: Expectation,
    outbox: Iterable[dict[str, Any]],
    chaos: Iterable[dict[str, Any]] = (),
) -> Verdict:
    """Compare a run's outbox with what was expected; explain each difference by the
    invocations that caused the effects and the faults the chaos log records."""
    records = list(outbox)
    seen = counted(records)
    doers: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for record in records:
        status = record.get("status")
        if status is None or 200 <= int(status) < 300:
            doers.setdefault((record["event_id"], record["channel"]), []).append(
                (str(record.get("request_id", "")), int(record.get("attempt", 1)))
            )
    faults: dict[str, list[dict[str, Any]]] = {}
    for fault in chaos:
        faults.setdefault(str(fault.get("event_id")), []).append(fault)
    verdict = Verdict(dead_letters=[r for r in records if r["channel"] == "dead_letter"])
    dead = {(r["event_id"], r["function"]) for r in verdict.dead_letters}
    for key in sorted(set(expectation.effects) | set(seen)):
        event_id, channel = key
        if channel == "dead_letter":
            continue
        missing = expectation.effects[key] - seen[key]
        if missing > 0:
            owner = CHANNEL_OWNERS.get(channel, ("?", set(), None))[0]
            if (event_id, owner) in dead:
                verdict.lost_dead_lettered[key] += missing
            else:
                verdict.lost_silently[key] += missing
        extra = seen[key] - expectation.effects[key]
        if extra > 0:
            _explain(verdict, key, extra, doers.get(key, []), faults.get(event_id, []))
    return verdict


def _explain(
    verdict: Verdict,
    key: tuple[str, str],
    extra: int,
    doers: list[tuple[str, int]],
    faults: list[dict[str, Any]],
) -> None:
    channel = key[1]
    owner = CHANNEL_OWNERS.get(channel, ("?", set(), None))[0]
    request_ids = {request_id for request_id, _ in doers}
    # one invocation did it in two attempts: an attempt failed after the side effect
    retried = len(set(doers)) > len(request_ids)
    killed = any(
        f["scope"] == "kill" and f["target"] == owner and f.get("request_id") in request_ids
        for f in faults
    )
    # the doer could not know it had done it; its mark was released on the failure, so
    # the same or another delivery of the event did it again
    ambiguous = _answer_lost(channel, faults)
    if not (retried or killed or ambiguous):
        verdict.doubled_unexplained[key] += extra
    elif channel in KEYED_CHANNELS:
        verdict.doubled_keyed[key] += extra
    elif ambiguous:
        verdict.doubled_ambiguous[key] += extra
    else:
        verdict.doubled_after_failed_attempt[key] += extra
        if killed:
            verdict.killed_after_effect[key] += extra
