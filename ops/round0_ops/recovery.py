"""See and recover what failed: dead letters, redrive, republish, replay, pending events.

Every recovery is safe to repeat: consumers do each side effect once per event and
channel, so an event handed to them again that they already handled changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from round0 import aws
from round0.attempts import SETTLED, Attempt, AttemptHistory, AttemptOutcome
from round0.contract import POINTER_FIELD
from round0.delivery import REPUBLISHED
from round0.event_store import EventStore, segment_of
from round0.large_events import PayloadStore
from round0.reading import iso_utc
from round0.records import QUARANTINED, MalformedPayloadRef, PayloadRef
from round0_ops.dead_letters import LIST_HOLD_SECONDS, DeadLetter, DeadLetterQueue
from round0_ops.output import Printer, age, table
from round0_ops.stack import Consumer, OpsError, Stack, consumers, explained
from round0_sweeper.wiring import SweeperSettings

REPLAY_POLL_SECONDS = 2.0
REPLAY_MAX_WAIT_SECONDS = 3600
# a redrive follows each event's attempt history this long for the consumer's outcome
REDRIVE_WAIT_SECONDS = 60.0
REDRIVE_POLL_SECONDS = 1.0
PAYLOAD_GONE = "payload gone"


def _queue(stack: Stack, consumer: Consumer) -> DeadLetterQueue:
    return DeadLetterQueue(consumer.name, stack.output(consumer.queue_output), stack.client("sqs"))


# ---------------------------------------------------------------- dead-letters


def list_dead_letters(stack: Stack, printer: Printer, chosen: list[str] | None) -> int:
    now = time.time()
    rows: list[dict[str, Any]] = []
    for consumer in consumers(chosen):
        queue = _queue(stack, consumer)
        with (
            explained(f"reading the {consumer.name} dead-letter queue"),
            queue.held(LIST_HOLD_SECONDS) as letters,
        ):
            rows.extend(letter.row(now) for letter in letters)
        if queue.truncated:
            printer.text(f"{consumer.name}: more dead letters than one listing reads")
    rows.sort(key=lambda row: -row["age_seconds"])
    printer.document(rows)
    if not rows:
        printer.text("no dead-lettered events")
        return 0
    printer.text(
        table(
            ["event id", "type", "consumer", "attempts", "age", "reason"],
            [
                [
                    row["event_id"],
                    row["type"],
                    row["consumer"],
                    row["attempts"],
                    age(row["age_seconds"]),
                    row["reason"],
                ]
                for row in rows
            ],
        )
    )
    return 0


# ---------------------------------------------------------------- redrive


def _wanted(letter: DeadLetter, event_ids: Sequence[str], reason: str | None) -> bool:
    if event_ids and letter.event_id not in event_ids:
        return False
    return reason is None or letter.reason.startswith(reason)


def redrive(
    stack: Stack,
    printer: Printer,
    chosen: list[str] | None,
    event_ids: Sequence[str],
    reason: str | None,
    dry_run: bool,
    wait_seconds: float = REDRIVE_WAIT_SECONDS,
) -> int:
    """Send each dead-lettered event back to its consumer's own queue, which paces it
    like any other (MaximumConcurrency, the neighbours' rates), once its body is known to
    be kept; delete each dead letter only once its event is in the queue; then follow
    each event's attempt history for the consumer's outcome, for `wait_seconds`."""
    sqs = stack.client("sqs")
    history = AttemptHistory(stack.output("EventsTableName"), 0, stack.client("dynamodb"))
    bodies = _Bodies(stack)
    results: list[dict[str, Any]] = []
    sent: list[tuple[dict[str, Any], Consumer, int]] = []
    failures = 0
    for consumer in consumers(chosen):
        source = stack.output(consumer.source_queue_output)
        queue = _queue(stack, consumer)
        with explained(f"redriving {consumer.name}"), queue.held() as letters:
            picked = [letter for letter in letters if _wanted(letter, event_ids, reason)]
            for done, letter in enumerate(picked, start=1):
                gone, before = bodies.gone(letter), 0
                if gone is not None:
                    outcome = f"{PAYLOAD_GONE} ({gone}): not redriven, kept in the queue"
                elif dry_run:
                    outcome = "would redrive"
                else:
                    before = len(history.get(letter.event_id, consumer.service))
                    outcome = _send(sqs, source, letter)
                if outcome == "redriven":
                    queue.delete(letter)
                else:
                    failures += outcome != "would redrive"
                result = {
                    "event_id": letter.event_id,
                    "consumer": consumer.name,
                    "outcome": outcome,
                }
                results.append(result)
                if outcome == "redriven":
                    sent.append((result, consumer, before))
                printer.progress(done, len(picked), f"redrive {consumer.name}")
    failures += _follow(history, sent, wait_seconds)
    found = {result["event_id"] for result in results}
    for event_id in event_ids:
        if event_id not in found:
            failures += 1
            results.append(
                {
                    "event_id": event_id,
                    "consumer": "-",
                    "outcome": "not in the dead-letter queues read"
                    + (f" with a reason starting {reason}" if reason else "")
                    + ": nothing to redrive (round0-ops event EVENT_ID tells its story)",
                }
            )
    printer.document(results)
    if not results:
        printer.text("nothing to redrive")
    else:
        printer.text(
            table(
                ["event id", "consumer", "outcome", "after"],
                [[r["event_id"], r["consumer"], r["outcome"], r.get("after", "")] for r in results],
            )
        )
    return 1 if failures else 0


class _Bodies:
    """Whether a dead letter's event body is still kept (a redrive of a gone one could only
    be skipped by the consumer, and the event would leave the queue unhandled)."""

    def __init__(self, stack: Stack) -> None:
        self._store = EventStore(stack.output("EventsTableName"), stack.client("dynamodb"))
        self._s3 = stack.client("s3")

    def gone(self, letter: DeadLetter) -> str | None:
        """Why the body is gone, or None when it is kept (or the letter names none)."""
        detail = letter.bus_event.get("detail")
        pointer = detail.get(POINTER_FIELD) if isinstance(detail, dict) else None
        with explained(f"checking the body of {letter.event_id}"):
            record = self._store.get(segment_of(letter.event_id))
            if record is not None and record.erased:
                return "erased on request"
            try:
                ref = PayloadRef.from_document(pointer)
            except MalformedPayloadRef:
                return None  # not a reference: the consumer says why (invalid_event)
            try:
                kept = PayloadStore(ref.s3_bucket, self._s3).exists(ref)
            except ClientError as exc:
                if aws.error_code(exc) != "NoSuchBucket":
                    raise
                kept = False
        return None if kept else "past PayloadRetentionDays, or erased"


def _follow(
    history: AttemptHistory,
    sent: list[tuple[dict[str, Any], Consumer, int]],
    wait_seconds: float,
) -> int:
    """Wait (at most `wait_seconds`) for each redriven event's next settled attempt and
    note it in its result as `after`; how many did not end well."""
    if not sent:
        return 0
    if wait_seconds <= 0:
        for result, _, _ in sent:
            result["after"] = "not waited for (round0-ops event EVENT_ID tells)"
        return 0
    deadline = time.monotonic() + wait_seconds
    waiting = list(sent)
    while True:
        still: list[tuple[dict[str, Any], Consumer, int]] = []
        for result, consumer, before in waiting:
            with explained(f"reading the history of {result['event_id']}"):
                new = history.get(result["event_id"], consumer.service)[before:]
            settled = [a for a in new if a.outcome in SETTLED]
            if settled:
                result["after"] = _after(settled[0])
            else:
                if new and new[-1].outcome == AttemptOutcome.WAITED:
                    result["after"] = f"still waiting (a neighbour's limit: {new[-1].reason})"
                elif new:
                    result["after"] = f"still waiting (failed, retrying: {new[-1].reason})"
                still.append((result, consumer, before))
        waiting = still
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(REDRIVE_POLL_SECONDS)
    for result, _, _ in waiting:
        result.setdefault("after", f"still waiting (no attempt within {wait_seconds:g}s)")
    return sum(1 for result, _, _ in sent if not _ended_well(result["after"]))


def _after(attempt: Attempt) -> str:
    match attempt.outcome:
        case AttemptOutcome.DONE:
            return "done"
        case AttemptOutcome.DUPLICATE:
            return "done before (duplicate)"
        case AttemptOutcome.SKIPPED:
            return f"skipped: {attempt.reason}"
        case AttemptOutcome.DEAD_LETTERED:
            return f"dead-lettered again: {attempt.reason}"
    return f"{attempt.outcome.value}: {attempt.reason}"


def _ended_well(after: str) -> bool:
    return after in {"done", "done before (duplicate)"} or (
        after.startswith("skipped: ") and after != "skipped: payload_gone"
    )


def _send(sqs: Any, queue_url: str, letter: DeadLetter) -> str:
    """The event back in its consumer's queue, as its rule puts it there."""
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(letter.bus_event))
    except ClientError as exc:
        return f"failed: {exc.response.get('Error', {}).get('Code', 'error')} (kept in the queue)"
    return "redriven"


# ---------------------------------------------------------------- republish


def republish(stack: Stack, printer: Printer, event_ids: Sequence[str]) -> int:
    """Put stored events on the bus again; consumers that already acted skip them.

    The sweeper does the putting: the bus's policy lets only the ingest path put
    `round0` events. Here, each event's payload is checked first: one past
    PayloadRetentionDays could only be skipped by every consumer.
    """
    store = EventStore(stack.output("EventsTableName"), stack.client("dynamodb"))
    s3 = stack.client("s3")
    outcomes: dict[str, str] = {}
    with explained("checking the events' payloads"):
        for event_id in event_ids:
            record = store.get(event_id)
            if record is not None and record.payload_ref is not None:
                try:
                    s3.head_object(
                        Bucket=record.payload_ref.s3_bucket, Key=record.payload_ref.s3_key
                    )
                except ClientError:
                    outcomes[event_id] = (
                        "payload gone (past PayloadRetentionDays): cannot be republished"
                    )
    asked = [event_id for event_id in event_ids if event_id not in outcomes]
    if asked:
        with explained("invoking the sweeper to republish"):
            answer = stack.client("lambda").invoke(
                FunctionName=stack.output("SweeperFunctionName"),
                InvocationType="RequestResponse",
                Payload=json.dumps({"republish": asked}).encode(),
            )
        report = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            raise OpsError(
                f"the sweeper failed to republish: {report.get('errorMessage', report)}",
                "read the SweeperFunction log; nothing was republished after the failure",
            )
        outcomes.update(report.get("republish", {}))
    results = [{"event_id": event_id, "outcome": outcomes[event_id]} for event_id in event_ids]
    printer.document(results)
    printer.text(table(["event id", "outcome"], [[r["event_id"], r["outcome"]] for r in results]))
    return 0 if all(r["outcome"] == REPUBLISHED for r in results) else 1


# ---------------------------------------------------------------- replay


def _rule_arns(stack: Stack, chosen: list[Consumer]) -> list[str]:
    """The bus rules of the chosen consumers: their names contain the rule's logical id
    (CloudFormation names them `<stack>-<Rule>-<suffix>`; the local runner alike)."""
    events = stack.client("events")
    bus = stack.output("EventBusName")
    rules = []
    for page in events.get_paginator("list_rules").paginate(EventBusName=bus):
        rules.extend(page.get("Rules", []))
    return [
        rule["Arn"]
        for rule in rules
        if any(consumer.rule_logical_id in rule["Name"] for consumer in chosen)
    ]


def replay(
    stack: Stack, printer: Printer, start: datetime, end: datetime, chosen: list[str] | None
) -> int:
    picked = consumers(chosen)
    events = stack.client("events")
    with explained("starting the replay"):
        rules = _rule_arns(stack, picked)
        if not rules:
            raise OpsError("no bus rule of those consumers found", "is the stack deployed whole?")
        bus_arn = stack.output("EventBusArn")
        name = f"round0-ops-{int(time.time())}"
        events.start_replay(
            ReplayName=name,
            EventSourceArn=stack.output("EventBusArchiveArn"),
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus_arn, "FilterArns": rules},
        )
    waited = 0.0
    state = "STARTING"
    total = max(int((end - start).total_seconds()), 1)
    while waited <= REPLAY_MAX_WAIT_SECONDS:
        with explained("following the replay"):
            described = events.describe_replay(ReplayName=name)
        state = described.get("State", "?")
        last = described.get("EventLastReplayedTime")
        if last is not None:
            printer.progress(int((last - start).total_seconds()), total, f"replay {name}")
        if state in {"COMPLETED", "FAILED", "CANCELLED"}:
            break
        time.sleep(REPLAY_POLL_SECONDS)
        waited += REPLAY_POLL_SECONDS
    result = {
        "replay": name,
        "state": state,
        "consumers": [consumer.name for consumer in picked],
        "rules": rules,
        "reason": described.get("StateReason", ""),
    }
    printer.document(result)
    printer.text(
        f"replay {name} of {', '.join(result['consumers'])} from {start.isoformat()} to"
        f" {end.isoformat()}: {state}"
        + (f" ({result['reason']})" if result["reason"] else "")
        + "\nconsumers skip what they already did; events past PayloadRetentionDays are skipped"
    )
    return 0 if state == "COMPLETED" else 1


# ---------------------------------------------------------------- pending


@dataclass(frozen=True)
class PendingEvent:
    event_id: str
    age_seconds: float


def pending(stack: Stack, printer: Printer, publish: bool, requeue: Sequence[str] = ()) -> int:
    """Records pending longer than the sweeper's threshold, and quarantined ones with
    their reason; `publish` sweeps now, `requeue` gives quarantined ones back to it."""
    threshold = SweeperSettings().sweep_after_seconds
    store = EventStore(stack.output("EventsTableName"), stack.client("dynamodb"))
    status = 0
    requeued: dict[str, bool] = {}
    with explained("requeueing quarantined events"):
        for event_id in requeue:
            requeued[event_id] = store.requeue(event_id)
    for event_id, done in requeued.items():
        printer.text(
            f"{event_id}: "
            + ("requeued: the sweeper publishes it" if done else "not quarantined: nothing done")
        )
        status |= 0 if done else 1
    now = time.time()
    with explained("reading pending events"):
        found = [
            PendingEvent(event_id, now - received)
            for event_id, received in store.pending(limit=10_000)
            if now - received > threshold
        ]
        quarantined = [
            (event_id, now - received, _reason(store, event_id))
            for event_id, received in store.pending(limit=10_000, status=QUARANTINED)
        ]
        conflicts = store.conflicts(limit=10_000)
    document: dict[str, Any] = {
        "threshold_seconds": threshold,
        "pending": [{"event_id": p.event_id, "age_seconds": round(p.age_seconds)} for p in found],
        "quarantined": [
            {"event_id": event_id, "age_seconds": round(age_), "reason": reason}
            for event_id, age_, reason in quarantined
        ],
        "conflicts": [
            {"event_id": event_id, "other_bodies": bodies, "last_at": iso_time(last)}
            for event_id, bodies, last in conflicts
        ],
        "requeued": requeued,
    }
    printer.text(
        f"events pending longer than {threshold}s: {len(found)}\n"
        + (
            table(["event id", "age"], [[p.event_id, age(p.age_seconds)] for p in found])
            if found
            else ""
        )
        + f"quarantined events: {len(quarantined)}\n"
        + (
            table(["event id", "age", "reason"], [[i, age(a), r] for i, a, r in quarantined])
            + "fix the cause, then: round0-ops pending --requeue EVENT_ID\n"
            if quarantined
            else ""
        )
        + f"events with conflicting bodies: {len(conflicts)}\n"
        + (
            table(
                ["event id", "other bodies", "last"],
                [[i, str(n), iso_time(last)] for i, n, last in conflicts],
            )
            + "each body is kept under events/<event id>/<sha256>.json; the first was"
            " published, the others were not (compare them, then republish if needed)\n"
            if conflicts
            else ""
        )
    )
    if publish:
        with explained("invoking the sweeper"):
            answer = stack.client("lambda").invoke(
                FunctionName=stack.output("SweeperFunctionName"),
                InvocationType="RequestResponse",
                Payload=b"{}",
            )
        report = json.loads(answer["Payload"].read() or b"{}")
        document["swept"] = report
        if answer.get("FunctionError"):
            printer.text(f"the sweeper failed: {report.get('errorMessage', report)}")
            status |= 1
        else:
            quarantined_now = report.get("quarantined") or {}
            printer.text(
                f"swept: {report.get('published', 0)} published, {report.get('failed', 0)}"
                f" failed, {report.get('skipped', 0)} skipped (held by a delivery in flight),"
                f" {len(quarantined_now)} quarantined"
            )
            for event_id, reason in sorted(quarantined_now.items()):
                printer.text(f"  quarantined {event_id}: {reason}")
            if quarantined_now:
                printer.text("fix the cause, then: round0-ops pending --requeue EVENT_ID")
            # a person is needed for what failed or was set aside for good
            status |= 1 if report.get("failed") or quarantined_now else 0
    printer.document(document)
    return status


def iso_time(moment: float) -> str:
    """A moment as ISO 8601 in UTC, to the second, as ROUND0 writes its times."""
    return iso_utc(datetime.fromtimestamp(int(moment), UTC)) or ""


def _reason(store: EventStore, event_id: str) -> str:
    record = store.get(event_id)
    return (record.quarantine_reason if record is not None else None) or "unknown"
