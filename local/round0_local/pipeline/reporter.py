"""What the local pipeline tells its user: one readable line per step, and the outbox.

Every outbound side effect a consumer causes (email, Slack message, ATS update, S3
object, dead letter) is printed and appended to the outbox as one JSON line with the
ROUND0 event id, the function, the channel and the invocation that caused it (its
Lambda request id and attempt) (`.local/outbox.jsonl`, started afresh by each run).
The observers say what changed; the reporter says whose doing it was.

Several invocations of a function run at once, so an effect seen when one of them
ends is not necessarily its own: it belongs to the running (or recently finished)
invocation whose ROUND0 event id appears in it (an ATS request's event id header, a
dead letter's payload), else whose interview id does (an S3 key, the link in an email
or a Slack message), else to the invocation that just ended. Ids are matched whole,
so `evt_1` never claims `evt_10`'s effects.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from round0_local.observers import DeadLetterObserver, Effect, Observer

Printer = Callable[[str], None]
RECENT_RUNS = 200  # finished invocations kept per function, for effects seen late


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


def _whole(identifier: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(identifier) + r"(?![A-Za-z0-9_.-])")


@dataclass(eq=False)
class Run:
    """One invocation of a function for one ROUND0 event, while it may cause effects."""

    function: str
    event_id: str
    event_type: str
    interview_ids: tuple[str, ...] = ()
    request_id: str = ""  # the Lambda request id (kept across Lambda's retries)
    attempt: int = 1
    _ids: list[list[str]] = field(default_factory=list)
    _patterns: list[list[re.Pattern[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        interviews = {variant for i in self.interview_ids for variant in (i, quote(i, safe=""))}
        self._ids = [
            [self.event_id] if self.event_id != "?" else [],
            sorted(interview for interview in interviews if interview),
        ]
        self._patterns = [[_whole(identifier) for identifier in ids] for ids in self._ids]

    def matches(self, clues: str, level: int) -> bool:
        """Whether `clues` holds this run's event id (level 0) or interview id (level 1)."""
        return any(
            identifier in clues and pattern.search(clues)  # the substring test is the cheap one
            for identifier, pattern in zip(self._ids[level], self._patterns[level], strict=True)
        )


class Reporter:
    def __init__(self, printer: Printer, outbox: Path) -> None:
        self._printer = printer
        self._print_lock = threading.Lock()
        self.outbox = Outbox(outbox)
        self._observers: dict[str, list[Observer]] = {}
        self._lock = threading.Lock()
        self._active: dict[str, list[Run]] = defaultdict(list)
        self._recent: dict[str, deque[Run]] = defaultdict(lambda: deque(maxlen=RECENT_RUNS))
        self._collecting: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def say(self, line: str) -> None:
        with self._print_lock:
            self._printer(line)

    def watch(self, function: str, observers: list[Observer]) -> None:
        """Report what `observers` see change while `function` runs."""
        self._observers[function] = observers

    @contextmanager
    def observing(
        self,
        function: str,
        event_id: str,
        event_type: str,
        interview_ids: Iterable[str] = (),
        request_id: str = "",
        attempt: int = 1,
    ) -> Iterator[Run]:
        """Report the side effects seen while the block runs, each as its event's (and
        as the doing of the invocation `request_id`, attempt `attempt`, if it was)."""
        run = Run(function, event_id, event_type, tuple(interview_ids), request_id, attempt)
        with self._lock:
            self._active[function].append(run)
        try:
            yield run
        finally:
            self._collect(function, run)
            with self._lock:
                self._active[function].remove(run)
                self._recent[function].append(run)

    def collect_dead_letters(self, function: str) -> None:
        """Report the dead letters no invocation's end saw: events SQS's redrive policy
        moved to the function's dead-letter queue while its mapping received them. Each
        belongs to the recent run of its event (its body is the event)."""
        observers = [
            o for o in self._observers.get(function, []) if isinstance(o, DeadLetterObserver)
        ]
        if not observers:
            return
        nobody = Run(function, "?", "?")
        with self._collecting[function]:
            for observer in observers:
                for effect in observer.new():
                    owner = self._owner(function, effect, nobody)
                    self.report(
                        function,
                        owner.event_id,
                        owner.event_type,
                        effect,
                        {"request_id": owner.request_id, "attempt": owner.attempt},
                    )

    def event_of(self, clues: str, functions: Iterable[str]) -> str | None:
        """The event id of the running invocation (of `functions`) that `clues` belong to."""
        with self._lock:
            runs = [run for function in functions for run in self._active[function]]
        for level in (0, 1):
            for run in runs:
                if run.matches(clues, level):
                    return run.event_id
        return None

    def _collect(self, function: str, finishing: Run) -> None:
        with self._collecting[function]:
            for observer in self._observers.get(function, []):
                for effect in observer.new():
                    owner = self._owner(function, effect, finishing)
                    self.report(
                        function,
                        owner.event_id,
                        owner.event_type,
                        effect,
                        {"request_id": owner.request_id, "attempt": owner.attempt},
                    )

    def _owner(self, function: str, effect: Effect, finishing: Run) -> Run:
        with self._lock:
            pools = [list(self._active[function]), list(reversed(self._recent[function]))]
        for level in (0, 1):
            for pool in pools:
                matches = [run for run in pool if run.matches(effect.clues, level)]
                if matches:
                    return finishing if finishing in matches else matches[0]
        return finishing

    def report(
        self,
        function: str,
        event_id: str,
        event_type: str,
        effect: Effect,
        invocation: dict[str, Any] | None = None,
    ) -> None:
        self.say(f"  {effect.symbol} {effect.channel:<10} {short(event_id)} {effect.summary}")
        self.outbox.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "function": function,
                "channel": effect.channel,
                **effect.details,
                **(invocation or {}),
            }
        )
