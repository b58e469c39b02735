"""The local bus archive's replays (round0_local.pipeline.replays): the window and the
destination's rules honoured, as EventBridge does; its refusals too."""

from __future__ import annotations

import time
from typing import Any

import pytest

from round0_local.emulator import Archive
from round0_local.pipeline.replays import BusReplays

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/round0-local-round0"
ARCHIVE = "arn:aws:events:us-east-1:123456789012:archive/round0-local-EventBusArchive"
RULES = {
    "NotifyFunction-InterviewStarted": "arn:aws:events:us-east-1:123456789012:rule/b/n",
    "AtsSyncFunction-ScreeningEvents": "arn:aws:events:us-east-1:123456789012:rule/b/a",
}


class Store:
    def __init__(self) -> None:
        self.events = [
            {"id": f"e{n}", "time": float(n * 100), "source": "round0", "detail": {}}
            for n in (1, 2, 3)
        ]
        self.sent: list[tuple[str, str, str]] = []

    def archive(self, name: str) -> Archive | None:
        return (
            Archive(ARCHIVE, BUS, self.events) if name == "round0-local-EventBusArchive" else None
        )

    def bus_rules(self, bus_name: str) -> dict[str, str]:
        return dict(RULES) if bus_name == "round0-local-round0" else {}

    def send_to_rule(self, bus_name: str, rule_name: str, event: dict[str, Any]) -> bool:
        self.sent.append((rule_name, event["id"], event["replay-name"]))
        return True


def start(replays: BusReplays, name: str, **overrides: Any) -> tuple[int, dict[str, Any]]:
    request = {
        "ReplayName": name,
        "EventSourceArn": ARCHIVE,
        "EventStartTime": 150,
        "EventEndTime": 300,
        "Destination": {"Arn": BUS, "FilterArns": [RULES["AtsSyncFunction-ScreeningEvents"]]},
        **overrides,
    }
    return replays.answer("StartReplay", request)


def finished(replays: BusReplays, name: str) -> dict[str, Any]:
    for _ in range(100):  # bounded: the replay runs in a thread of its own
        status, described = replays.answer("DescribeReplay", {"ReplayName": name})
        assert status == 200
        if described["State"] in {"COMPLETED", "CANCELLED", "FAILED"}:
            return described
        time.sleep(0.05)
    pytest.fail("the replay did not finish")


def test_a_replay_sends_only_the_window_to_only_the_chosen_rules() -> None:
    store = Store()
    replays = BusReplays(store, lambda _: None)
    status, started = start(replays, "r1")
    assert (status, started["State"]) == (200, "STARTING")
    described = finished(replays, "r1")
    assert (described["State"], described["EventLastReplayedTime"]) == ("COMPLETED", 300.0)
    assert store.sent == [
        ("AtsSyncFunction-ScreeningEvents", "e2", "r1"),
        ("AtsSyncFunction-ScreeningEvents", "e3", "r1"),
    ]
    listed = replays.answer("ListReplays", {"NamePrefix": "r"})[1]["Replays"]
    assert [r["ReplayName"] for r in listed] == ["r1"]


def test_a_replay_without_filter_arns_goes_to_every_rule() -> None:
    store = Store()
    replays = BusReplays(store, lambda _: None)
    start(replays, "all", EventStartTime=0, Destination={"Arn": BUS})
    finished(replays, "all")
    assert sorted(store.sent) == sorted((rule, f"e{n}", "all") for rule in RULES for n in (1, 2, 3))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"EventSourceArn": ARCHIVE + "-gone"}, "ValidationException"),
        ({"Destination": {"Arn": BUS + "-other"}}, "ValidationException"),
        ({"EventStartTime": 400}, "ValidationException"),
        (
            {"Destination": {"Arn": BUS, "FilterArns": ["arn:aws:events:x:1:rule/nope"]}},
            "ValidationException",
        ),
    ],
    ids=["no-archive", "another-bus", "window-backwards", "unknown-rule"],
)
def test_eventbridges_refusals(overrides: dict[str, Any], code: str) -> None:
    store = Store()
    status, answer = start(BusReplays(store, lambda _: None), "bad", **overrides)
    assert (status, answer["__type"]) == (400, code)
    assert store.sent == []


def test_a_name_is_used_once_and_an_unknown_replay_is_not_found() -> None:
    replays = BusReplays(Store(), lambda _: None)
    assert start(replays, "once")[0] == 200
    assert start(replays, "once")[1]["__type"] == "ResourceAlreadyExistsException"
    missing = replays.answer("DescribeReplay", {"ReplayName": "never"})
    assert missing == (
        400,
        {"__type": "ResourceNotFoundException", "message": "Replay never does not exist."},
    )
