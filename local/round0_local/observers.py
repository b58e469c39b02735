"""What the local pipeline watches to report each consumer's outbound side effects.

A consumer function runs one invocation at a time locally, so what its observers see
change during an invocation is that invocation's doing. Which observers a function
gets is read from the template: SES if its policy allows `ses:*`, each bucket its
policy lets it write, its OnFailure dead-letter queue (and the one it writes
itself); the HTTP stand-ins its configuration points at are watched by observers the
integrations give (`round0_local.integrations`), which import this module, never the
reverse.
"""

from __future__ import annotations

import json
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


class Observer(Protocol):
    def mark(self) -> Any: ...
    def since(self, mark: Any) -> list[Effect]: ...


class EmailObserver:
    def __init__(self, emulator: AwsEmulator) -> None:
        self._emulator = emulator

    def mark(self) -> int:
        return len(self._emulator.sent_emails())

    def since(self, mark: int) -> list[Effect]:
        return [
            Effect(
                "email",
                "✉",
                f"to {', '.join(email.destinations)}",
                {"to": email.destinations, "from": email.source, "message_id": email.message_id},
            )
            for email in self._emulator.sent_emails()[mark:]
        ]


class BucketObserver:
    def __init__(self, emulator: AwsEmulator, bucket: str) -> None:
        self._emulator = emulator
        self._bucket = bucket

    def mark(self) -> dict[str, str]:
        return {key: item.etag for key, item in self._emulator.objects(self._bucket).items()}

    def since(self, mark: dict[str, str]) -> list[Effect]:
        return [
            Effect(
                "s3",
                "▣",
                f"s3://{self._bucket}/{key} ({item.size:,} bytes)",
                {"bucket": self._bucket, "key": key, "size": item.size},
            )
            for key, item in sorted(self._emulator.objects(self._bucket).items())
            if mark.get(key) != item.etag
        ]


class DeadLetterObserver:
    def __init__(self, emulator: AwsEmulator, queue_name: str) -> None:
        self._emulator = emulator
        self._queue = queue_name

    def mark(self) -> set[str]:
        return {message.message_id for message in self._emulator.queued(self._queue)}

    def since(self, mark: set[str]) -> list[Effect]:
        effects = []
        for message in self._emulator.queued(self._queue):
            if message.message_id in mark:
                continue
            try:
                record = json.loads(message.body)
                reason = record.get("responsePayload", {}).get("errorMessage", "")
                condition = record.get("requestContext", {}).get("condition", "")
            except ValueError:
                reason, condition = "", ""
            effects.append(
                Effect(
                    "dead_letter",
                    "☠",
                    f"{self._queue}: {condition} {reason}".rstrip(),
                    {"queue": self._queue, "condition": condition, "reason": reason},
                )
            )
        return effects


class StandInObserver:
    """Requests a stand-in (Slack, the ATS) answered, with the status it gave."""

    def __init__(self, channel: str, symbol: str, standin: RecordingStandIn) -> None:
        self._channel = channel
        self._symbol = symbol
        self._standin = standin

    def mark(self) -> int:
        return len(self._standin.exchanges())

    def since(self, mark: int) -> list[Effect]:
        return [
            Effect(
                self._channel,
                self._symbol,
                f"{request.method} {request.path.split('?', 1)[0]} → {status}",
                {
                    "method": request.method,
                    "target": request.path.split("?", 1)[0],
                    "status": status,
                },
            )
            for request, status in self._standin.exchanges()[mark:]
        ]


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
    config = stack.functions()[function]["Properties"].get("EventInvokeConfig", {})
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination is not None:
        observers.append(
            DeadLetterObserver(emulator, str(stack.resolve(destination)).rsplit(":", 1)[-1])
        )
    return observers
