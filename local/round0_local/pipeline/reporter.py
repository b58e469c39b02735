"""What the local pipeline tells its user: one readable line per step, and the outbox.

Every outbound side effect a consumer causes (email, Slack message, ATS update, S3
object, dead letter) is printed and appended to the outbox as one JSON line with the
ROUND0 event id, the function and the channel (`.local/outbox.jsonl`, started afresh
by each run). The observers say what changed; the reporter says whose doing it was.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from round0_local.observers import Effect, Observer

Printer = Callable[[str], None]


@dataclass
class Outbox:
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")  # one run, one outbox

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"time": datetime.now(UTC).isoformat(), **record}, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def short(event_id: str) -> str:
    """An event id as printed: long ones cut to 48 characters."""
    return event_id if len(event_id) <= 48 else event_id[:47] + "…"


class Reporter:
    def __init__(self, printer: Printer, outbox: Path) -> None:
        self._printer = printer
        self._print_lock = threading.Lock()
        self.outbox = Outbox(outbox)
        self._observers: dict[str, list[Observer]] = {}

    def say(self, line: str) -> None:
        with self._print_lock:
            self._printer(line)

    def watch(self, function: str, observers: list[Observer]) -> None:
        """Report what `observers` see change while `function` runs."""
        self._observers[function] = observers

    @contextmanager
    def observing(self, function: str, event_id: str, event_type: str) -> Iterator[None]:
        """Report the side effects `function` causes inside the block as this event's."""
        observers = self._observers.get(function, [])
        marks = [observer.mark() for observer in observers]
        try:
            yield
        finally:
            for observer, mark in zip(observers, marks, strict=True):
                for effect in observer.since(mark):
                    self.report(function, event_id, event_type, effect)

    def report(self, function: str, event_id: str, event_type: str, effect: Effect) -> None:
        self.say(f"  {effect.symbol} {effect.channel:<10} {short(event_id)} {effect.summary}")
        self.outbox.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "function": function,
                "channel": effect.channel,
                **effect.details,
            }
        )
