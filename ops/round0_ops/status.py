"""`round0-ops status`: one screen of what waits, what is wrong, what is not set up yet.

It never receives a message: dead letters are counted from their queues' attributes
(GetQueueAttributes), their reasons and ages read from the consumers' attempt histories
(`round0.attempts`), so running it from cron cannot push a dead letter out of SQS's
age metric.

Attention (exit status 1): a dead-lettered event, an event pending longer than the
sweeper allows, an alarm in ALARM, webhooks refused for their signature with none
accepted since (the likely cause named, `round0_ops.webhooks`), the signing secret
never set, ROUND0's API key still the placeholder, an ATS adapter chosen but without
credentials. Channels that are simply off (no email sender, no Slack webhook, AtsAdapter
none) are shown, not counted: a stack may run without them on purpose.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from round0.attempts import AttemptHistory
from round0.event_store import EventStore
from round0.failures import reason_code
from round0.reading import iso_utc
from round0.records import QUARANTINED
from round0.secrets import secret_document, secret_field
from round0_ops.dead_letters import DeadLetterQueue
from round0_ops.output import Printer, age, table
from round0_ops.stack import CONSUMERS, Stack, explained
from round0_ops.webhooks import Webhooks
from round0_ops.webhooks import gather as gather_webhooks

# dead letters the consumers did not write (Lambda's after its retries): `dead-letters`
NO_REASON_ON_RECORD = "reason not on record"
# as the template's PendingTooLongAlarm: the sweeper publishes within a few minutes
PENDING_ATTENTION_SECONDS = 900


@dataclass(frozen=True)
class Check:
    """One line of the configuration: ok, off (a choice) or fix (needs a person)."""

    state: str  # "ok" | "off" | "fix"
    what: str
    fix: str = ""


@dataclass
class Status:
    stack: str
    dead_letters: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    # per consumer, the reason codes of the events its history shows dead-lettered
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    # each consumer's own queue (its backlog): waiting, being handled, delayed (waiting
    # for a limit, or put back after a failure), from its attributes (nothing received)
    queues: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    pending: int = 0
    oldest_pending_seconds: float | None = None
    quarantined: int = 0
    alarms: list[str] = field(default_factory=list)
    newest_published_at: float | None = None
    checks: list[Check] = field(default_factory=list)
    webhooks: Webhooks = field(default_factory=Webhooks)
    now: float = field(default_factory=time.time)

    def attention(self) -> list[str]:
        items = [
            f"{count} dead-lettered {consumer} event(s){self._why(consumer)}: round0-ops"
            f" dead-letters --consumer {consumer}, fix the cause (docs/operations.md, by"
            f" reason), then round0-ops redrive --consumer {consumer}"
            for consumer, (count, _) in self.dead_letters.items()
            if count
        ]
        if (self.oldest_pending_seconds or 0) > PENDING_ATTENTION_SECONDS:
            items.append("events pending too long: round0-ops pending --publish")
        if self.quarantined:
            items.append(
                f"{self.quarantined} quarantined event(s): round0-ops pending shows why;"
                " fix the cause, then round0-ops pending --requeue EVENT_ID"
            )
        items += self.webhooks.attention(self.now)
        items += [f"alarm {name} is in ALARM (docs/operations.md)" for name in self.alarms]
        items += [f"{check.what}: {check.fix}" for check in self.checks if check.state == "fix"]
        return items

    def _why(self, consumer: str) -> str:
        reasons = self.reasons.get(consumer)
        if not reasons:
            return ""
        return " (" + ", ".join(f"{code} x{n}" for code, n in sorted(reasons.items())) + ")"

    def document(self, now: float) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "dead_letters": {
                consumer: {
                    "count": count,
                    "oldest_age_seconds": _rounded(oldest),
                    "reasons": self.reasons.get(consumer, {}),
                }
                for consumer, (count, oldest) in self.dead_letters.items()
            },
            "queues": {
                consumer: {"waiting": waiting, "in_flight": in_flight, "delayed": delayed}
                for consumer, (waiting, in_flight, delayed) in self.queues.items()
            },
            "pending": {
                "count": self.pending,
                "oldest_age_seconds": _rounded(self.oldest_pending_seconds),
            },
            "quarantined": self.quarantined,
            "alarms_in_alarm": self.alarms,
            "newest_published_at": _iso(self.newest_published_at),
            "newest_published_age_seconds": _rounded(
                None if self.newest_published_at is None else now - self.newest_published_at
            ),
            "webhooks": self.webhooks.document(now),
            "configuration": [check.__dict__ for check in self.checks],
            "attention": self.attention(),
        }

    def render(self, now: float) -> str:
        lines = [f"stack {self.stack}", ""]
        rows = [
            [consumer, count, age(oldest), self._why(consumer).strip(" ()")]
            for consumer, (count, oldest) in self.dead_letters.items()
        ]
        lines.append(table(["consumer", "dead letters", "oldest", "reasons"], rows).rstrip())
        lines.append("")
        if self.queues:
            backlog = [[consumer, *counts] for consumer, counts in self.queues.items()]
            lines.append(table(["queue", "waiting", "in flight", "delayed"], backlog).rstrip())
            lines.append("")
        lines.append(f"pending events: {self.pending} (oldest {age(self.oldest_pending_seconds)})")
        lines.append(f"quarantined events: {self.quarantined}")
        lines.append(f"alarms in ALARM: {', '.join(self.alarms) or 'none'}")
        newest = self.newest_published_at
        lines.append(
            "newest published event: "
            + ("none on record" if newest is None else f"{_iso(newest)} ({age(now - newest)} ago)")
        )
        lines.append("")
        lines.extend(self.webhooks.render(now))
        lines.append("")
        lines.append("configuration:")
        lines.extend(
            f"  {check.state:<4} {check.what}" + (f": {check.fix}" if check.fix else "")
            for check in self.checks
        )
        lines.append("")
        attention = self.attention()
        if attention:
            lines.append(f"needs attention ({len(attention)}):")
            lines.extend(f"  - {item}" for item in attention)
        else:
            lines.append("all clear")
        return "\n".join(lines) + "\n"


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _iso(value: float | None) -> str | None:
    """ISO 8601 in UTC (round0.reading.iso_utc, the layer's one formatter)."""
    if value is None:
        return None
    return iso_utc(datetime.fromtimestamp(int(value), UTC))


def configuration(stack: Stack) -> list[Check]:
    checks: list[Check] = []
    arn = stack.output("SigningSecretArn")
    with explained("reading the signing secret's versions"):
        versions = stack.client("secretsmanager").describe_secret(SecretId=arn)
    if len(versions.get("VersionIdsToStages", {})) <= 1:
        checks.append(
            Check(
                "fix",
                "signing secret never set (every webhook is refused)",
                f"aws secretsmanager put-secret-value --secret-id {arn} --secret-string"
                """ '{"current": "<secret from ROUND0>", "previous": ""}'""",
            )
        )
    else:
        checks.append(Check("ok", "signing secret set"))
    key_arn = stack.output("Round0ApiKeyArn")
    if secret_field(stack.secret("Round0ApiKeyArn"), "api_key") is None:
        checks.append(
            Check(
                "fix",
                "ROUND0 API key still the placeholder (every archive is dead-lettered)",
                f"aws secretsmanager put-secret-value --secret-id {key_arn} --secret-string"
                """ '{"api_key": "rz_live_..."}'""",
            )
        )
    else:
        checks.append(Check("ok", "ROUND0 API key set"))
    if stack.output("NotificationSender"):
        checks.append(Check("ok", "email sender set"))
    else:
        checks.append(
            Check(
                "off",
                "email: no sender",
                "sam deploy --parameter-overrides NotificationSender=...,"
                " NotificationSenderIdentity=... (docs/deploy.md)",
            )
        )
    slack_arn = stack.output("NotifySlackWebhookSecretArn")
    if secret_field(stack.secret("NotifySlackWebhookSecretArn"), "webhook_url") is None:
        checks.append(
            Check(
                "off",
                "Slack: no webhook URL",
                f"aws secretsmanager put-secret-value --secret-id {slack_arn} --secret-string"
                """ '{"webhook_url": "https://hooks.slack.com/services/..."}'""",
            )
        )
    else:
        checks.append(Check("ok", "Slack webhook set"))
    checks.append(_ats_check(stack))
    return checks


ATS_SECRETS = {"greenhouse": "GreenhouseApiSecretArn", "lever": "LeverApiSecretArn"}


def _ats_check(stack: Stack) -> Check:
    adapter = stack.output("AtsAdapter")
    if adapter == "none":
        return Check(
            "off", "ATS: AtsAdapter none", "sam deploy --parameter-overrides AtsAdapter=..."
        )
    output = ATS_SECRETS.get(adapter)
    if output is not None:
        document = secret_document(stack.secret(output)) or {}
        empty = sorted(
            name for name, value in document.items() if isinstance(value, str) and not value
        )
        if empty or not document:
            return Check(
                "fix",
                f"ATS {adapter}: credentials not set ({', '.join(empty) or 'secret empty'})",
                f"put them in the secret {stack.output(output)} (docs/deploy.md)",
            )
    return Check("ok", f"ATS adapter {adapter}")


def gather(stack: Stack, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    status = Status(stack.name, now=now)
    sqs = stack.client("sqs")
    history = AttemptHistory(stack.output("EventsTableName"), 0, stack.client("dynamodb"))
    with explained("reading the attempt histories"):
        dead_lettered = history.latest_dead_lettered()
    for consumer in CONSUMERS.values():
        queue = DeadLetterQueue(consumer.name, stack.output(consumer.queue_output), sqs)
        with explained(f"counting the {consumer.name} dead-letter queue"):
            count = queue.count()  # never received: no receive count changes
        known = [a for _, service, a in dead_lettered if service == consumer.service]
        oldest = max((now - attempt.at for attempt in known), default=None) if count else None
        status.dead_letters[consumer.name] = (count, oldest)
        if count:
            reasons = Counter(reason_code(attempt.reason or "unknown") for attempt in known)
            if count > len(known):
                # Lambda's (or SQS's) own records: no dead-lettered attempt on record
                reasons[NO_REASON_ON_RECORD] += count - len(known)
            status.reasons[consumer.name] = dict(reasons)
    for consumer in CONSUMERS.values():
        with explained(f"reading the {consumer.name} queue's depth"):
            status.queues[consumer.name] = queue_depth(
                sqs, stack.output(consumer.source_queue_output)
            )
    events = EventStore(stack.output("EventsTableName"), stack.client("dynamodb"))
    with explained("reading pending events"):
        pending = events.pending(limit=10_000)
        status.pending = len(pending)
        if pending:
            status.oldest_pending_seconds = now - min(received for _, received in pending)
        status.newest_published_at = events.newest_published_at()
        status.quarantined = len(events.pending(limit=10_000, status=QUARANTINED))
    with explained("reading alarms"):
        alarms = stack.client("cloudwatch").describe_alarms(AlarmNamePrefix=stack.name)
    status.alarms = sorted(
        alarm["AlarmName"]
        for alarm in alarms.get("MetricAlarms", [])
        if alarm.get("StateValue") == "ALARM"
    )
    with explained("reading the webhook metrics"):
        status.webhooks = gather_webhooks(
            stack.client("cloudwatch"), now, stack.output("SigningSecretArn")
        )
    status.checks = configuration(stack)
    return status


def queue_depth(sqs: Any, url: str) -> tuple[int, int, int]:
    """A queue's messages waiting, in flight and delayed: its attributes, no receive."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def run(stack: Stack, printer: Printer) -> int:
    now = time.time()
    status = gather(stack, now)
    printer.text(status.render(now))
    printer.document(status.document(now))
    return 1 if status.attention() else 0
