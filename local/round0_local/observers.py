"""What the local pipeline watches to report each consumer's outbound side effects.

Each observer keeps a cursor: `new()` returns the side effects that appeared since it
was last asked (an email sent, an object written or rewritten with other content, a
dead letter, a request a stand-in answered), each with `clues`: the text in which the
reporter looks for the ROUND0 event or interview it belongs to, since several
invocations of a function may run at once. Which observers a function gets is read
from the template: SES if its policy allows `ses:*`, each bucket its policy lets it
write, the dead-letter queue its queue redrives to (where it writes its own); the HTTP
stand-ins its configuration points at are watched by observers the integrations give
(`round0_local.integrations`), which import this module, never the reverse.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from round0_local.emulator import AwsEmulator

if TYPE_CHECKING:
    from round0_testkit.standins.recording import RecordingStandIn
    from round0_testkit.template import TemplateStack


@dataclass(frozen=True)
class Effect:
    channel: str
    symbol: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    clues: str = ""  # where the event it belongs to can be recognised (never printed)


class Observer(Protocol):
    def new(self) -> list[Effect]:
        """The side effects that appeared since the last call (each reported once)."""


class EmailObserver:
    def __init__(self, emulator: AwsEmulator) -> None:
        self._emulator = emulator
        self._lock = threading.Lock()
        self._seen = len(emulator.sent_emails())

    def new(self) -> list[Effect]:
        with self._lock:
            emails = self._emulator.sent_emails()[self._seen :]
            self._seen += len(emails)
        return [
            Effect(
                "email",
                "✉",
                f"to {', '.join(email.destinations)}",
                {"to": email.destinations, "from": email.source, "message_id": email.message_id},
                clues=email.text,
            )
            for email in emails
        ]


class BucketObserver:
    def __init__(self, emulator: AwsEmulator, bucket: str) -> None:
        self._emulator = emulator
        self._bucket = bucket
        self._lock = threading.Lock()
        self._seen = self._etags()

    def _etags(self) -> dict[str, str]:
        return {key: item.etag for key, item in self._emulator.objects(self._bucket).items()}

    def new(self) -> list[Effect]:
        with self._lock:
            objects = self._emulator.objects(self._bucket)
            changed = sorted(
                (key, item) for key, item in objects.items() if self._seen.get(key) != item.etag
            )
            self._seen.update({key: item.etag for key, item in changed})
        return [
            Effect(
                "s3",
                "▣",
                f"s3://{self._bucket}/{key} ({item.size:,} bytes)",
                {"bucket": self._bucket, "key": key, "size": item.size},
                clues=key,
            )
            for key, item in changed
        ]


class DeadLetterObserver:
    def __init__(self, emulator: AwsEmulator, queue_name: str) -> None:
        self._emulator = emulator
        self._queue = queue_name
        self._lock = threading.Lock()
        self._seen = {message.message_id for message in emulator.queued(queue_name)}

    def new(self) -> list[Effect]:
        with self._lock:
            messages = [
                m for m in self._emulator.queued(self._queue) if m.message_id not in self._seen
            ]
            self._seen.update(message.message_id for message in messages)
        effects = []
        for message in messages:
            try:
                record = json.loads(message.body)
                reason = record.get("responsePayload", {}).get("errorMessage", "")
                condition = record.get("requestContext", {}).get("condition", "")
                if "requestPayload" not in record:  # the event itself: SQS's redrive
                    condition, reason = "maxReceiveCount", "received too often (no reason)"
            except (ValueError, AttributeError):
                reason, condition = "", ""
            effects.append(
                Effect(
                    "dead_letter",
                    "☠",
                    f"{self._queue}: {condition} {reason}".rstrip(),
                    {"queue": self._queue, "condition": condition, "reason": reason},
                    clues=message.body,
                )
            )
        return effects


class StandInObserver:
    """Requests a stand-in (Slack, the ATS) answered, with the status it gave.

    A request is reported once it is answered; one never answered (held by a hang,
    or whose client left) is no side effect and is never reported.
    """

    def __init__(self, channel: str, symbol: str, standin: RecordingStandIn) -> None:
        self._channel = channel
        self._symbol = symbol
        self._standin = standin
        self._lock = threading.Lock()
        self._next = len(standin.exchanges())
        self._unanswered: set[int] = set()

    def new(self) -> list[Effect]:
        exchanges = self._standin.exchanges()
        with self._lock:
            candidates = sorted(self._unanswered | set(range(self._next, len(exchanges))))
            self._next = len(exchanges)
            answered = [index for index in candidates if exchanges[index].status]
            self._unanswered = set(candidates) - set(answered)
        effects = []
        for index in answered:
            exchange = exchanges[index]
            request, status = exchange.request, exchange.status
            body = request.body.decode("utf-8", "replace")
            effects.append(
                Effect(
                    self._channel,
                    self._symbol,
                    f"{request.method} {request.route} → {status}",
                    {
                        "method": request.method,
                        "target": request.route,
                        "status": status,
                        "arrived_at": round(exchange.arrived_at, 3),
                    },
                    clues=" ".join([request.path, *request.headers.values(), body]),
                )
            )
        return effects


def _statements(stack: TemplateStack, function: str) -> list[dict[str, Any]]:
    statements = []
    for policy in stack.functions()[function]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            statements.extend(stack.resolve(policy["Statement"]))
    return statements


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def observers_for(function: str, stack: TemplateStack, emulator: AwsEmulator) -> list[Observer]:
    """What to watch of the AWS side effects `function` may cause (read from the template)."""
    statements = _statements(stack, function)
    observers: list[Observer] = []
    if any(
        action.startswith("ses:") for s in statements for action in _as_list(s.get("Action", []))
    ):
        observers.append(EmailObserver(emulator))
    for bucket in stack.of_type("AWS::S3::Bucket"):
        name = stack.physical_name(bucket)
        writes = any(
            any(action.startswith("s3:Put") for action in _as_list(s.get("Action", [])))
            and any(f":::{name}/" in resource for resource in _as_list(s.get("Resource", [])))
            for s in statements
        )
        if writes:
            observers.append(BucketObserver(emulator, name))
    observers.extend(
        DeadLetterObserver(emulator, stack.physical_name(queue))
        for queue in dead_letter_queues(stack, function)
    )
    return observers


def dead_letter_queues(stack: TemplateStack, function: str) -> list[str]:
    """The dead-letter queues of the queues `function` reads (their redrive targets),
    where it also writes its own records."""
    found = []
    for event in stack.functions()[function]["Properties"].get("Events", {}).values():
        if event["Type"] != "SQS":
            continue
        queue = stack.resources[event["Properties"]["Queue"]["Fn::GetAtt"][0]]
        target = queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            found.append(str(target["Fn::GetAtt"][0]))
    return found
