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
    counts: Counter[tuple[str, str]] = Counter()
    if not outbox.exists():
        return counts
    for line in outbox.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        status = record.get("status")
        if status is not None and not 200 <= int(status) < 300:
            continue
        counts[(record["event_id"], record["channel"])] += 1
    return counts


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
