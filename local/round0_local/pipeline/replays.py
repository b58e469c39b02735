"""EventBridge's replays of the local bus archive, as EventBridge runs them.

moto replays a whole archive to every rule of the bus at once, ignoring the time window
and the destination's `FilterArns`. The gateway answers the replay API here instead
(`round0_local.gateway.LocalReplays`):

- `StartReplay` checks what EventBridge checks (the archive exists, the destination is
  the archive's own bus, the window is ordered, the name is new, each `FilterArns`
  entry is a rule of that bus) and answers `STARTING`; the replay then runs in the
  background: every archived event whose time is within [`EventStartTime`,
  `EventEndTime`], oldest first, with `replay-name` added, is handed to each chosen
  rule (every rule of the bus but the managed ones when `FilterArns` is empty), which
  sends it to its targets if its pattern matches, as a put does. The archive's own
  rule skips replayed events, as EventBridge's does.
- `DescribeReplay` follows it: `STARTING`, `RUNNING`, then `COMPLETED` (or
  `CANCELLED`), with `EventLastReplayedTime`; `ListReplays` and `CancelReplay` too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from round0_local.emulator import Archive
from round0_testkit.template import ACCOUNT, REGION

type Answer = tuple[int, dict[str, Any]]


class ArchiveStore(Protocol):
    """What a replay reads and drives in the emulator (`AwsEmulator`)."""

    def archive(self, name: str) -> Archive | None: ...
    def bus_rules(self, bus_name: str) -> dict[str, str]: ...
    def send_to_rule(self, bus_name: str, rule_name: str, event: dict[str, Any]) -> bool: ...


def _error(code: str, message: str, status: int = 400) -> Answer:
    return status, {"__type": code, "message": message}


def _invalid(parameter: str, reason: str) -> Answer:
    return _error("ValidationException", f"Parameter {parameter} is not valid. Reason: {reason}")


def event_time(event: dict[str, Any]) -> float:
    """An archived event's time, in epoch seconds (moto keeps a number or an ISO string)."""
    value = event.get("time", 0)
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass
class Replay:
    name: str
    description: str
    archive: Archive
    start: float
    end: float
    destination: dict[str, Any]
    rules: dict[str, str]  # name -> ARN of the rules replayed to
    state: str = "STARTING"
    reason: str = "Replay is starting."
    started: float = field(default_factory=time.time)
    ended: float | None = None
    last_replayed: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT}:replay/{self.name}"

    @property
    def source_arn(self) -> str:
        return self.archive.arn

    @property
    def bus(self) -> str:
        return self.archive.source_arn.rsplit("/", 1)[-1]

    def short(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "ReplayName": self.name,
            "EventSourceArn": self.source_arn,
            "State": self.state,
            "StateReason": self.reason,
            "EventStartTime": self.start,
            "EventEndTime": self.end,
            "ReplayStartTime": self.started,
        }
        if self.last_replayed is not None:
            described["EventLastReplayedTime"] = self.last_replayed
        if self.ended is not None:
            described["ReplayEndTime"] = self.ended
        return described

    def describe(self) -> dict[str, Any]:
        return {
            **self.short(),
            "ReplayArn": self.arn,
            "Description": self.description,
            "Destination": self.destination,
        }


class BusReplays:
    def __init__(self, store: ArchiveStore, say: Callable[[str], None]) -> None:
        self._store = store
        self._say = say
        self._replays: dict[str, Replay] = {}
        self._lock = threading.Lock()

    def answer(self, operation: str, request: dict[str, Any]) -> Answer:
        match operation:
            case "StartReplay":
                return self._start(request)
            case "DescribeReplay":
                found = self._replays.get(str(request.get("ReplayName", "")))
                if found is None:
                    return self._missing(request)
                return 200, found.describe()
            case "ListReplays":
                return 200, {"Replays": [r.short() for r in self._listed(request)]}
            case "CancelReplay":
                return self._cancel(request)
        return _error("UnknownOperationException", f"{operation} is not a replay operation")

    @staticmethod
    def _missing(request: dict[str, Any]) -> Answer:
        name = request.get("ReplayName", "")
        return _error("ResourceNotFoundException", f"Replay {name} does not exist.")

    def _listed(self, request: dict[str, Any]) -> list[Replay]:
        prefix = str(request.get("NamePrefix", ""))
        return [
            replay
            for replay in list(self._replays.values())
            if replay.name.startswith(prefix)
            and request.get("State") in {None, replay.state}
            and request.get("EventSourceArn") in {None, replay.source_arn}
        ]

    def _cancel(self, request: dict[str, Any]) -> Answer:
        replay = self._replays.get(str(request.get("ReplayName", "")))
        if replay is None:
            return self._missing(request)
        if replay.state not in {"STARTING", "RUNNING"}:
            return _error("IllegalStatusException", f"Replay {replay.name} is {replay.state}.")
        replay.cancelled.set()
        replay.state, replay.reason = "CANCELLING", "Replay is being cancelled."
        return 200, {"ReplayArn": replay.arn, "State": replay.state, "StateReason": replay.reason}

    def _start(self, request: dict[str, Any]) -> Answer:
        checked = self._checked(request)
        if not isinstance(checked, Replay):
            return checked
        with self._lock:
            if checked.name in self._replays:
                return _error(
                    "ResourceAlreadyExistsException", f"Replay {checked.name} already exists."
                )
            self._replays[checked.name] = checked
        answer = {
            "ReplayArn": checked.arn,
            "State": checked.state,
            "StateReason": checked.reason,
            "ReplayStartTime": checked.started,
        }
        threading.Thread(target=self._run, args=(checked,), daemon=True).start()
        return 200, answer

    def _checked(self, request: dict[str, Any]) -> Replay | Answer:
        """The replay a StartReplay asks for, or EventBridge's refusal."""
        source = str(request.get("EventSourceArn", ""))
        destination = request.get("Destination") or {}
        archive = self._store.archive(source.rsplit("/", 1)[-1]) if "/" in source else None
        if archive is None:
            return _invalid("EventSourceArn", f"Archive {source} does not exist.")
        if destination.get("Arn") != archive.source_arn:
            return _invalid("Destination.Arn", "Cross event bus replay is not permitted.")
        try:
            start, end = float(request["EventStartTime"]), float(request["EventEndTime"])
        except (KeyError, TypeError, ValueError):
            return _invalid("EventStartTime", "EventStartTime and EventEndTime are required.")
        if start > end:
            return _invalid("EventEndTime", "EventStartTime must be before EventEndTime.")
        rules = self._store.bus_rules(archive.source_arn.rsplit("/", 1)[-1])
        wanted = [str(arn) for arn in destination.get("FilterArns") or []]
        unknown = [arn for arn in wanted if arn not in rules.values()]
        if unknown:
            return _invalid("Destination.FilterArns", f"Rule {unknown[0]} does not exist.")
        return Replay(
            str(request.get("ReplayName", "")),
            str(request.get("Description", "")),
            archive,
            start,
            end,
            destination,
            {name: arn for name, arn in rules.items() if not wanted or arn in wanted},
        )

    def _run(self, replay: Replay) -> None:
        archive, bus = replay.archive, replay.bus
        events = sorted(
            (e for e in archive.events if replay.start <= event_time(e) <= replay.end),
            key=event_time,
        )
        replay.state, replay.reason = "RUNNING", "Replay is running."
        self._say(
            f"→ replay     {replay.name}: {len(events)} events of {len(archive.events)} archived,"
            f" to {', '.join(sorted(replay.rules)) or 'no rule'}"
        )
        for event in events:
            if replay.cancelled.is_set():
                break
            replayed = {**event, "replay-name": replay.name}
            for rule in replay.rules:
                self._store.send_to_rule(bus, rule, replayed)
            replay.last_replayed = event_time(event)
        replay.ended = time.time()
        if replay.cancelled.is_set():
            replay.state, replay.reason = "CANCELLED", "Replay was cancelled."
        else:
            replay.state, replay.reason = "COMPLETED", "Replay completed."
        self._say(f"✓ replay     {replay.name}: {replay.state.lower()}")
