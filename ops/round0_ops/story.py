"""`round0-ops event`: one event's whole story, as a webhook service's event view tells it.

Joined from what the stack keeps: the event's record (when it arrived, how often,
conflicting bodies, stored, published, quarantined, erased), its body in the payload
bucket (kept or gone), and per consumer its attempt history (`round0.attempts`: every
attempt's outcome, reason, time and request id). A consumer's dead-letter queue is
read only when its history ends in a failure or a dead letter, to say whether the
event waits there now (reading hides the queue's messages for a few seconds).
No name, email or transcript is read or printed: records and histories hold none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from round0.attempts import Attempt, AttemptHistory, AttemptOutcome
from round0.event_store import EventStore, segment_of
from round0.large_events import PayloadStore
from round0.reading import iso_utc
from round0.records import StoredEvent
from round0.state_store import InterviewStates
from round0_ops.dead_letters import LIST_HOLD_SECONDS, DeadLetterQueue
from round0_ops.output import Printer, table
from round0_ops.stack import CONSUMERS, Consumer, OpsError, Stack, explained


def iso(moment: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC (the layer's one formatter), to the millisecond."""
    if moment is None:
        return None
    return iso_utc(datetime.fromtimestamp(round(moment, 3), UTC))


class State:
    """Where one consumer is with the event, read from its history (and its queue)."""

    DONE = "done"
    DUPLICATE = "duplicate"  # handled by another delivery (done, or being done, there)
    SKIPPED = "skipped"
    RETRYING = "waiting (retrying)"
    WAITING = "waiting (a neighbour's limit)"
    DEAD_LETTERED = "dead-lettered"
    NOT_RUN = "no attempt on record"


def consumer_state(  # noqa: PLR0911 - one return per state
    attempts: list[Attempt], in_queue: bool | None
) -> tuple[str, str | None]:
    """(state, reason) of one consumer, from its attempts, oldest first; `in_queue` says
    whether its dead-letter queue holds the event now (None: not read)."""
    if in_queue:
        reasons = [a.reason for a in attempts if a.outcome != AttemptOutcome.DONE and a.reason]
        return State.DEAD_LETTERED, reasons[-1] if reasons else None
    if not attempts:
        return State.NOT_RUN, None
    last = attempts[-1]
    match last.outcome:
        case AttemptOutcome.DONE:
            return State.DONE, None
        case AttemptOutcome.DUPLICATE:
            done = any(a.outcome == AttemptOutcome.DONE for a in attempts)
            return (State.DONE if done else State.DUPLICATE), None
        case AttemptOutcome.SKIPPED:
            return State.SKIPPED, last.reason
        case AttemptOutcome.FAILED:
            # back in the consumer's queue after a backoff; after its last allowed
            # receive it is in the dead-letter queue (read above)
            return State.RETRYING, last.reason
        case AttemptOutcome.WAITED:
            # a neighbour's limit: back in the consumer's queue, not a failure
            return State.WAITING, last.reason
        case AttemptOutcome.DEAD_LETTERED:
            # not in the queue (any more): redriven and not run yet, or expired, or erased
            return State.DEAD_LETTERED + " (not in its queue now)", last.reason
    return State.NOT_RUN, None


@dataclass
class ConsumerStory:
    consumer: str
    attempts: list[Attempt]
    in_queue: bool | None = None
    queue_reason: str | None = None

    def document(self) -> dict[str, Any]:
        state, reason = consumer_state(self.attempts, self.in_queue)
        return {
            "state": state,
            "reason": reason or self.queue_reason,
            "in_dead_letter_queue": self.in_queue,
            "attempts": [
                {
                    "at": iso(a.at),
                    "outcome": a.outcome.value,
                    "reason": a.reason,
                    "request_id": a.request_id,
                }
                for a in self.attempts
            ],
        }


@dataclass
class Story:
    event_id: str
    record: StoredEvent | None
    payload: str  # kept | gone | none (no body on record)
    consumers: list[ConsumerStory] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.record is not None or any(c.attempts for c in self.consumers)

    def document(self) -> dict[str, Any]:
        record = self.record
        return {
            "event_id": self.event_id,
            "on_record": record is not None,
            "type": record.event_type if record else None,
            "received_at": iso(record.received_at) if record else None,
            "deliveries": record.deliveries if record else None,
            "last_delivery_at": iso(record.last_delivery_at) if record else None,
            "conflicting_bodies": list(record.conflicting_bodies) if record else [],
            "status": record.status if record else None,
            "quarantine_reason": record.quarantine_reason if record else None,
            "published_at": iso(record.published_at) if record else None,
            "payload": self.payload,
            "erased": record.erased if record else False,
            "consumers": {c.consumer: c.document() for c in self.consumers},
        }

    def render(self) -> str:
        document = self.document()
        if not self.known:
            return f"{self.event_id}: not on record (never received, or past EventTtlDays)\n"
        lines = [f"event {self.event_id}  {document['type'] or '?'}"]
        if self.record is None:
            lines.append("  record     gone (past EventTtlDays): consumers' histories only")
        else:
            deliveries = document["deliveries"]
            lines.append(
                f"  received   {document['received_at']}  ({deliveries} deliver"
                + ("y" if deliveries == 1 else f"ies, last {document['last_delivery_at']}")
                + ")"
            )
            if document["conflicting_bodies"]:
                lines.append(
                    f"  conflicts  {len(document['conflicting_bodies'])} other body(ies) under"
                    " this id, kept beside the first, not published (round0-ops pending)"
                )
            lines.append(f"  stored     body {document['payload']}")
            status = document["status"]
            if document["erased"]:
                lines.append("  erased     yes, on a candidate's request (a tombstone is kept)")
            elif status == "published":
                lines.append(f"  published  {document['published_at'] or 'yes'}")
            elif status == "quarantined":
                lines.append(f"  quarantined  {document['quarantine_reason']}")
            else:
                lines.append(f"  published  not yet ({status}): round0-ops pending")
        lines.append("")
        consumers = document["consumers"]
        lines.append(
            table(
                ["consumer", "state", "reason", "attempts"],
                [
                    [name, c["state"], c["reason"] or "", len(c["attempts"])]
                    for name, c in consumers.items()
                ],
            ).rstrip()
        )
        attempts = sorted(
            (a["at"], name, a) for name, c in consumers.items() for a in c["attempts"]
        )
        if attempts:
            lines.append("")
            lines.append("attempts:")
            lines.append(
                table(
                    ["time", "consumer", "outcome", "reason", "request id"],
                    [
                        [at, name, a["outcome"], a["reason"] or "", a["request_id"]]
                        for at, name, a in attempts
                    ],
                ).rstrip()
            )
        return "\n".join(lines) + "\n"


def _in_queue(stack: Stack, consumer: Consumer, event_id: str) -> tuple[bool, str | None]:
    queue = DeadLetterQueue(consumer.name, stack.output(consumer.queue_output), stack.client("sqs"))
    with (
        explained(f"reading the {consumer.name} dead-letter queue"),
        queue.held(LIST_HOLD_SECONDS) as letters,
    ):
        found = [letter for letter in letters if letter.event_id == event_id]
    return bool(found), (found[0].reason if found else None)


def tell(stack: Stack, event_id: str) -> Story:
    """The story of one event, from the stack's tables, bucket and queues."""
    dynamodb = stack.client("dynamodb")
    table_name = stack.output("EventsTableName")
    with explained("reading the event's record"):
        record = EventStore(table_name, dynamodb).get(segment_of(event_id))
    payload = "none"
    if record is not None and record.payload_ref is not None:
        ref = record.payload_ref
        with explained("checking the event's body"):
            kept = PayloadStore(ref.s3_bucket, stack.client("s3")).exists(ref)
        payload = "kept" if kept else "gone (erased, or past PayloadRetentionDays)"
    history = AttemptHistory(table_name, 0, dynamodb)
    story = Story(event_id, record, payload)
    for consumer in CONSUMERS.values():
        with explained(f"reading the {consumer.name} attempt history"):
            attempts = history.get(event_id, consumer.service)
        told = ConsumerStory(consumer.name, attempts)
        if attempts and attempts[-1].outcome in {
            AttemptOutcome.FAILED,
            AttemptOutcome.DEAD_LETTERED,
        }:
            told.in_queue, told.queue_reason = _in_queue(stack, consumer, event_id)
        story.consumers.append(told)
    return story


def run(stack: Stack, printer: Printer, event_id: str | None, interview_id: str | None) -> int:
    """Print the story of an event, or of every event of an interview; exit 1 if unknown."""
    if interview_id is not None:
        states = InterviewStates(stack.output("EventsTableName"), stack.client("dynamodb"))
        with explained("reading the interview's state"):
            found = states.event_ids(interview_id)
        if found is None:
            printer.document({"interview_id": interview_id, "events": []})
            printer.text(f"interview {interview_id}: not on record (or erased)")
            return 1
        stories = [tell(stack, event_id) for event_id in sorted(found[0])]
        stories.sort(key=lambda s: s.record.received_at if s.record else 0.0)
        printer.document({"interview_id": interview_id, "events": [s.document() for s in stories]})
        printer.text(
            f"interview {interview_id}: {len(stories)} event(s)\n\n"
            + "\n".join(s.render() for s in stories)
        )
        return 0
    if event_id is None:
        raise OpsError("name an event (EVENT_ID) or --interview-id")
    story = tell(stack, event_id)
    printer.document(story.document())
    printer.text(story.render())
    return 0 if story.known else 1
