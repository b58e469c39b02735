"""Whose side effect is it: several invocations of a function run at once."""

from __future__ import annotations

import json
from pathlib import Path

from round0_local.observers import Effect
from round0_local.pipeline.reporter import Reporter


class Seen:
    """An observer whose new effects are set by the test."""

    def __init__(self) -> None:
        self.pending: list[Effect] = []

    def new(self) -> list[Effect]:
        effects, self.pending = self.pending, []
        return effects


def outbox(path: Path) -> list[tuple[str, str, str, int]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["event_id"], r["channel"], r["request_id"], r["attempt"]) for r in records]


def test_an_effect_belongs_to_the_run_whose_id_it_carries_whole(tmp_path: Path) -> None:
    seen = Seen()
    reporter = Reporter(lambda line: None, tmp_path / "outbox.jsonl")
    reporter.watch("NotifyFunction", [seen])
    with (
        reporter.observing("NotifyFunction", "evt_10", "t", ["interview-10"], "r10", 2),
        reporter.observing("NotifyFunction", "evt_1", "t", ["interview-1"], "r1"),
    ):
        # seen while evt_1's invocation ends: one is evt_10's (its interview in a key),
        # one is evt_1's (its event id in a header), one carries neither
        seen.pending = [
            Effect("s3", "▣", "", clues="interviews/interview-10/transcript.json"),
            Effect("ats", "⇄", "", clues="/ats/webhook X-Round0-Event-Id evt_1 {}"),
            Effect("email", "✉", "", clues="nothing to tell"),
        ]
    assert outbox(tmp_path / "outbox.jsonl") == [
        ("evt_10", "s3", "r10", 2),
        ("evt_1", "ats", "r1", 1),
        ("evt_1", "email", "r1", 1),  # the invocation that just ended
    ]


def test_an_effect_seen_late_goes_to_the_finished_run_it_names(tmp_path: Path) -> None:
    seen = Seen()
    reporter = Reporter(lambda line: None, tmp_path / "outbox.jsonl")
    reporter.watch("NotifyFunction", [seen])
    with reporter.observing("NotifyFunction", "evt_7", "t", ["interview-7"], "r7"):
        pass
    with reporter.observing("NotifyFunction", "evt_8", "t", ["interview-8"], "r8"):
        seen.pending = [Effect("slack", "#", "", clues="<https://app/interviews/interview-7|Open>")]
    assert outbox(tmp_path / "outbox.jsonl") == [("evt_7", "slack", "r7", 1)]
    assert reporter.event_of("X-Round0-Event-Id evt_8", ["NotifyFunction"]) is None  # ended
