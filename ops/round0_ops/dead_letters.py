"""Dead-lettered events as operators see them: id, type, consumer, reason, attempts, age.

Counting them never receives a message (`DeadLetterQueue.count`, GetQueueAttributes);
reading their bodies does, with long polling, and hides each message briefly.

A message of a consumer's dead-letter queue is one of two shapes. The consumer's own
record of an event it gave up on (a permanent failure, or still failing on its last
allowed receive), in Lambda's destination record format: the bus event in
`requestPayload` (a reference to the event, never the event), the reason in
`responsePayload.errorMessage`, the attempts in `requestContext` (Lambda's OnFailure
records of the earlier asynchronous wiring have the same shape). Or the bus event
itself, moved there by SQS's redrive policy after ConsumerMaxReceives receives (an
invocation that crashed or timed out on the last one): no reason is known. Nothing
here prints a name, an email, a transcript or a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from round0.reading import iso_utc

MAX_REASON_CHARS = 300
# how long messages stay hidden from other readers while one command handles them
# (redrive, erase: each message is handled while hidden)
HOLD_SECONDS = 120
# a listing only reads: it hides each message for a short while, and shows it again as
# soon as it is done (`dead-letters`, `event`)
LIST_HOLD_SECONDS = 20
MAX_RECEIVES = 200  # bounds one scan: 2,000 messages
# Long polling: SQS asks every server (a short poll asks a sample, and may answer
# nothing while messages wait). A scan ends after an empty long poll once it has seen
# as many messages as the queue said it held, or after EMPTY_POLLS empty ones.
WAIT_SECONDS = 1
EMPTY_POLLS = 2
REDRIVEN_BY_SQS = (
    "retries_exhausted: received ConsumerMaxReceives times; the last invocation crashed"
    " or timed out (see the function's log)"
)


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    event_id: str
    event_type: str
    reason: str
    attempts: int
    sent_at: float
    receipt_handle: str
    bus_event: dict[str, Any]

    def age(self, now: float) -> float:
        return now - self.sent_at

    def row(self, now: float) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "consumer": self.consumer,
            "reason": self.reason,
            "attempts": self.attempts,
            "age_seconds": round(self.age(now)),
            "dead_lettered_at": iso_utc(datetime.fromtimestamp(int(self.sent_at), UTC)),
        }


def read_record(consumer: str, message: dict[str, Any]) -> DeadLetter:
    """One SQS message of a dead-letter queue; a message that is not a record still shows."""
    try:
        record = json.loads(message["Body"])
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    redriven = "requestPayload" not in record and "detail" in record  # SQS moved it here
    bus_event = record if redriven else record.get("requestPayload")
    bus_event = bus_event if isinstance(bus_event, dict) else {}
    detail = bus_event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    response = record.get("responsePayload")
    response = response if isinstance(response, dict) else {}
    context = record.get("requestContext")
    context = context if isinstance(context, dict) else {}
    reason = str(response.get("errorMessage") or response.get("errorType") or "unknown")
    if redriven:
        reason = REDRIVEN_BY_SQS
    attributes = message.get("Attributes", {})
    return DeadLetter(
        consumer=consumer,
        event_id=str(detail.get("id") or "?"),
        event_type=str(bus_event.get("detail-type") or detail.get("type") or "?"),
        reason=" ".join(reason.split())[:MAX_REASON_CHARS],
        attempts=int(context.get("approximateInvokeCount") or 0),
        sent_at=int(attributes.get("SentTimestamp", "0")) / 1000,
        receipt_handle=message["ReceiptHandle"],
        bus_event=bus_event,
    )


class DeadLetterQueue:
    """One consumer's dead-letter queue: read every message, then delete or release each."""

    def __init__(self, consumer: str, url: str, client: Any) -> None:
        self.consumer = consumer
        self._url = url
        self._sqs = client
        self._deleted: set[str] = set()
        self.truncated = False  # the last scan stopped at MAX_RECEIVES

    def count(self) -> int:
        """How many messages the queue holds (visible or held by a reader), from its
        attributes: nothing is received, so no receive count changes."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ).get("Attributes", {})
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    @contextmanager
    def held(self, hold_seconds: int = HOLD_SECONDS) -> Iterator[list[DeadLetter]]:
        """Every message, hidden while the block runs; those not deleted come back at once.

        Receiving counts: SQS leaves a message received 3 times or more out of its
        ApproximateAgeOfOldestMessage, so only commands that must read bodies call this.
        """
        letters: list[DeadLetter] = []
        seen: set[str] = set()
        expected = self.count()
        empty = 0
        self.truncated = True
        for _ in range(MAX_RECEIVES):
            batch = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=WAIT_SECONDS,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                empty += 1
                if len(seen) >= expected or empty >= EMPTY_POLLS:
                    self.truncated = False
                    break
                continue
            empty = 0
            for message in batch:
                if message["MessageId"] not in seen:
                    seen.add(message["MessageId"])
                    letters.append(read_record(self.consumer, message))
        self._deleted = set()
        try:
            yield letters
        finally:
            for letter in letters:
                if letter.receipt_handle not in self._deleted:
                    self._sqs.change_message_visibility(
                        QueueUrl=self._url,
                        ReceiptHandle=letter.receipt_handle,
                        VisibilityTimeout=0,
                    )

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=letter.receipt_handle)
        self._deleted.add(letter.receipt_handle)
