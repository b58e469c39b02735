"""round0-ops event (an event's whole story), redrive's checks and outcomes, status that
never receives, and the CLI's global options, against the local stack in moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest

from round0.attempts import Attempt, AttemptHistory, AttemptOutcome
from round0.contract import payload_prefix
from round0_ops.stack import Stack
from round0_testkit.events import load_api_event
from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack

from .test_status_and_recovery import ENDED_ID, configure_api_key, dead_letter

Ops = Callable[..., Ran]
Receive = Callable[[dict[str, Any]], dict[str, Any]]
NOTIFY, ARCHIVE = "round0-notify", "round0-archive"


def history(stack: TemplateStack) -> AttemptHistory:
    return AttemptHistory(stack.physical_name("EventsTable"), 86_400, boto3.client("dynamodb"))


def dead_lettered_by_notify(stack: TemplateStack, reason: str) -> None:
    """What the notify consumer leaves when Slack refuses for good: its attempt, the letter."""
    history(stack).append(
        ENDED_ID, NOTIFY, Attempt(AttemptOutcome.DEAD_LETTERED, reason, 0, "req-1")
    )
    dead_letter(stack, "Notify", ENDED_ID, reason)


class ConsumerOnItsQueue:
    """The SQS client round0-ops uses, as the event source mapping would follow it: an
    event sent to notify's queue is handed to `answer` (the consumer at work) at once."""

    def __init__(self, real: Any, queue_url: str) -> None:
        self._real = real
        self._queue_url = queue_url
        self.answer: Callable[[dict[str, Any]], None] | None = None
        self.handed: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def send_message(self, **arguments: Any) -> Any:
        sent = self._real.send_message(**arguments)
        if arguments["QueueUrl"] == self._queue_url:
            event = json.loads(arguments["MessageBody"])
            self.handed.append(event)
            if self.answer is not None:
                self.answer(event)
        return sent


@pytest.fixture
def notify_queue(stack: TemplateStack, monkeypatch: pytest.MonkeyPatch) -> ConsumerOnItsQueue:
    real_client = Stack.client
    wrapped = ConsumerOnItsQueue(
        boto3.client("sqs"), stack.function_environment("NotifyFunction")["CONSUMER_QUEUE_URL"]
    )

    def client(self: Stack, service: str) -> Any:
        return wrapped if service == "sqs" else real_client(self, service)

    monkeypatch.setattr(Stack, "client", client)
    return wrapped


def the_consumer_runs(
    stack: TemplateStack, outcome: AttemptOutcome, reason: str | None
) -> Callable[[dict[str, Any]], None]:
    """The notify consumer handed the redriven event: it appends its attempt."""

    def run(event: dict[str, Any]) -> None:
        assert event["detail"]["id"] == ENDED_ID
        history(stack).append(ENDED_ID, NOTIFY, Attempt(outcome, reason, 0, "req-2"))

    return run


def receive_count(stack: TemplateStack, queue: str) -> int:
    sqs = boto3.client("sqs")
    [message] = sqs.receive_message(
        QueueUrl=stack.physical[f"{queue}DeadLetterQueue.QueueUrl"],
        AttributeNames=["ApproximateReceiveCount"],
        VisibilityTimeout=0,
    )["Messages"]
    return int(message["Attributes"]["ApproximateReceiveCount"])


def test_an_events_story_tells_arrivals_publication_and_each_consumers_attempts(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given an event received twice, published, done by the archive, and dead-lettered
    # by notify
    for _ in range(2):
        assert received(load_api_event("interview_ended.json"))["statusCode"] == 200
    history(stack).append(ENDED_ID, ARCHIVE, Attempt(AttemptOutcome.DONE, None, 0, "req-a"))
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    # When the operator asks for its story
    ran = ops("event", ENDED_ID)
    document = ops("event", ENDED_ID, "--json").json()
    # Then it says how often it arrived, that it is stored and published
    assert ran.status == 0, ran.err
    assert "(2 deliveries, last " in ran.out
    assert "body kept" in ran.out
    assert (document["deliveries"], document["status"], document["payload"]) == (
        2,
        "published",
        "kept",
    )
    for moment in ("received_at", "last_delivery_at", "published_at"):
        assert datetime.fromisoformat(document[moment]).tzinfo is not None
    # and, per consumer, what came of it, with every attempt's time and reason
    consumers = document["consumers"]
    assert consumers["notify"]["state"] == "dead-lettered"
    assert consumers["notify"]["reason"] == "slack_rejected:404 no_service"
    assert consumers["notify"]["in_dead_letter_queue"] is True
    assert consumers["archive"]["state"] == "done"
    assert consumers["ats"]["state"] == "no attempt on record"
    [attempt] = consumers["notify"]["attempts"]
    assert (attempt["outcome"], attempt["request_id"]) == ("dead_lettered", "req-1")
    assert datetime.fromisoformat(attempt["at"]).tzinfo is not None
    # and the whole interview's events can be asked for at once
    interview = ops("--json", "event", "--interview-id", "660f9511-f30c-52e5-b827-557766551111")
    assert [e["event_id"] for e in interview.json()["events"]] == [ENDED_ID], interview.out


def test_an_unknown_event_or_interview_exits_non_zero(ops: Ops) -> None:
    ran = ops("event", "evt_never_seen")
    assert ran.status == 1
    assert "evt_never_seen: not on record" in ran.out
    assert ops("event", "--interview-id", "no-such-interview").status == 1
    assert ops("event").status == 2  # neither named: a usage error


def test_a_redrive_reports_the_consumers_outcome_and_the_history_survives(
    ops: Ops, stack: TemplateStack, received: Receive, notify_queue: ConsumerOnItsQueue
) -> None:
    received(load_api_event("interview_ended.json"))
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    # When the cause is fixed and the operator redrives (the consumer succeeds now)
    notify_queue.answer = the_consumer_runs(stack, AttemptOutcome.DONE, None)
    ran = ops("--json", "redrive", "--event-id", ENDED_ID)
    # Then it reports what the consumer did, after it ran
    assert ran.status == 0, ran.out
    assert ran.json() == [
        {"event_id": ENDED_ID, "consumer": "notify", "outcome": "redriven", "after": "done"}
    ]
    # and the event's story keeps the first attempt beside the new one
    story = ops("--json", "event", ENDED_ID).json()["consumers"]["notify"]
    assert story["state"] == "done"
    assert [a["outcome"] for a in story["attempts"]] == ["dead_lettered", "done"]


def test_a_redrive_that_fails_again_says_so_and_exits_non_zero(
    ops: Ops, stack: TemplateStack, received: Receive, notify_queue: ConsumerOnItsQueue
) -> None:
    received(load_api_event("interview_ended.json"))
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    notify_queue.answer = the_consumer_runs(
        stack, AttemptOutcome.DEAD_LETTERED, "slack_rejected:410 channel_is_archived"
    )
    ran = ops("redrive", "--consumer", "notify")
    assert ran.status == 1
    assert "dead-lettered again: slack_rejected:410 channel_is_archived" in ran.out
    attempts = history(stack).get(ENDED_ID, NOTIFY)
    assert [a.reason for a in attempts] == [
        "slack_rejected:404 no_service",
        "slack_rejected:410 channel_is_archived",
    ]


def test_a_redrive_the_consumer_never_runs_is_still_waiting(
    ops: Ops, stack: TemplateStack, notify_queue: ConsumerOnItsQueue
) -> None:
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    ran = ops("--json", "redrive", "--wait", "0.5")
    assert ran.status == 1
    [result] = ran.json()
    assert result["after"] == "still waiting (no attempt within 0.5s)"
    assert len(notify_queue.handed) == 1  # it is in notify's queue, not run yet


def test_a_redrive_whose_body_is_gone_says_payload_gone_and_keeps_the_letter(
    ops: Ops, stack: TemplateStack, notify_queue: ConsumerOnItsQueue
) -> None:
    # Given a dead letter whose body the bucket no longer keeps (its retention, an erasure)
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    s3, bucket = boto3.client("s3"), stack.physical_name("PayloadBucket")
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=payload_prefix(ENDED_ID))["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    # When the operator redrives it
    ran = ops("redrive", "--consumer", "notify")
    # Then nothing is sent, it says why, exits non-zero, and the letter stays
    assert ran.status == 1
    assert "payload gone" in ran.out
    assert notify_queue.handed == []
    assert [row["event_id"] for row in ops("--json", "dead-letters").json()] == [ENDED_ID]


def test_redriving_an_id_that_is_not_dead_lettered_exits_non_zero(
    ops: Ops, notify_queue: ConsumerOnItsQueue
) -> None:
    ran = ops("redrive", "--event-id", "evt_typo")
    assert ran.status == 1
    assert "evt_typo" in ran.out
    assert "not in the dead-letter queues read" in ran.out
    assert notify_queue.handed == []


def test_status_run_again_and_again_never_receives_a_dead_letter(
    ops: Ops, stack: TemplateStack
) -> None:
    # Given a dead letter
    configure_api_key(stack)
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    # When status runs five times (as from cron)
    for _ in range(5):
        ran = ops("status")
        assert ran.status == 1
    # Then it counted the letter, named its reason, and never received it
    assert "1 dead-lettered notify event(s) (slack_rejected x1)" in ran.out
    document = ops("status", "--json").json()
    assert document["dead_letters"]["notify"]["count"] == 1
    assert document["dead_letters"]["notify"]["reasons"] == {"slack_rejected": 1}
    assert receive_count(stack, "Notify") == 1  # this receive is the first


def test_global_options_go_before_or_after_the_command(ops: Ops, stack: TemplateStack) -> None:
    configure_api_key(stack)
    after = ops("status", "--json", "--stack", stack.stack_name)
    before = ops("--json", "--stack", stack.stack_name, "status")
    assert after.status == before.status == 0
    assert after.json()["stack"] == before.json()["stack"] == stack.stack_name
    assert json.loads(ops("dead-letters", "--json").out) == []
    unknown = ops("status", "--stack", "no-such-stack")
    assert unknown.status == 2
    assert "stack no-such-stack not found" in unknown.err


def test_status_times_are_iso_8601(ops: Ops, stack: TemplateStack, received: Receive) -> None:
    received(load_api_event("interview_ended.json"))
    newest = ops("--json", "status").json()["newest_published_at"]
    assert newest.endswith("Z")
    assert datetime.fromisoformat(newest).tzinfo is not None


def test_an_erased_events_story_says_so_and_it_leaves_the_dead_lettered_ones(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given an event notify dead-lettered
    received(load_api_event("interview_ended.json"))
    dead_lettered_by_notify(stack, "slack_rejected:404 no_service")
    assert [e for e, _, _ in history(stack).latest_dead_lettered()] == [ENDED_ID]
    # When its candidate's data is erased
    erased = ops("erase", "--interview-id", "660f9511-f30c-52e5-b827-557766551111", "--yes")
    assert erased.status == 0, erased.out + erased.err
    # Then its story says erased, the letter gone and why
    story = ops("--json", "event", ENDED_ID).json()
    assert story["erased"] is True
    assert story["payload"].startswith("gone")
    notify = story["consumers"]["notify"]
    assert (notify["state"], notify["reason"]) == ("skipped", "erased")
    assert [a["outcome"] for a in notify["attempts"]] == ["dead_lettered", "skipped"]
    # and it is no longer among the dead-lettered events
    assert history(stack).latest_dead_lettered() == []
