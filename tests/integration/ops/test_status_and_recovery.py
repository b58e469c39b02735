"""round0-ops status, dead-letters, redrive, republish and pending against the local stack."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from typing import Any

import boto3

from round0.consumer import DeadLetterQueue
from round0.contract import payload_prefix
from round0.event_store import EventStore, event_key
from round0_testkit.events import (
    load_api_event,
    payload_bytes,
    signed_request,
    stored_bus_event,
)
from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack, load_template

from .conftest import LOCAL_API, FakeLambda

Ops = Callable[..., Ran]
Receive = Callable[[dict[str, Any]], dict[str, Any]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"


def configure_api_key(stack: TemplateStack) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.arns["Round0ApiKey"], SecretString='{"api_key": "rz_live_test"}'
    )


def dead_letter(stack: TemplateStack, consumer: str, event_id: str, reason: str) -> None:
    """A record as the consumer shell writes it: the bus event (a reference to a body kept
    in the payload bucket) and the reason."""
    document = json.loads(payload_bytes("interview_ended.json"))
    document["id"] = event_id
    body = json.dumps(document).encode()
    bus_event = stored_bus_event(body, stack.physical_name("PayloadBucket"), boto3.client("s3"))
    queue = stack.physical[f"{consumer}DeadLetterQueue.QueueUrl"]
    DeadLetterQueue(queue, boto3.client("sqs")).send(bus_event, reason, f"arn:{consumer}")


def test_status_says_what_is_not_configured_and_exits_non_zero(
    ops: Ops, stack: TemplateStack
) -> None:
    ran = ops("status")
    assert ran.status == 1
    assert "ROUND0 API key still the placeholder" in ran.out
    assert f"--secret-id {stack.arns['Round0ApiKey']}" in ran.out
    assert "ok   signing secret set" in ran.out
    assert "off  email: no sender" in ran.out
    assert "off  ATS: AtsAdapter none" in ran.out


def test_status_is_all_clear_once_configured_and_json_says_the_same(
    ops: Ops, stack: TemplateStack
) -> None:
    configure_api_key(stack)
    ran = ops("status")
    assert (ran.status, ran.out.rstrip().splitlines()[-1]) == (0, "all clear")
    document = ops("--json", "status").json()
    assert document["attention"] == []
    assert document["dead_letters"]["notify"] == {
        "count": 0,
        "oldest_age_seconds": None,
        "reasons": {},
    }


def test_a_signing_secret_never_set_needs_attention(ops: Ops) -> None:
    # Given a stack as `sam deploy` leaves it: the generated signing secret, never replaced
    fresh = TemplateStack(load_template(), stack_name="fresh")
    fresh.create(boto3.Session())
    fresh.register(boto3.client("cloudformation"), LOCAL_API)
    # When the operator asks
    ran = ops("--stack", "fresh", "status")
    # Then the one thing that refuses every webhook is named, with the command that fixes it
    assert ran.status == 1
    assert "signing secret never set (every webhook is refused)" in ran.out
    assert f"put-secret-value --secret-id {fresh.arns['SigningSecret']}" in ran.out


def test_dead_letters_are_listed_without_personal_data_and_fail_status(
    ops: Ops, stack: TemplateStack
) -> None:
    configure_api_key(stack)
    dead_letter(stack, "Notify", ENDED_ID, "slack_rejected:404 no_service")
    dead_letter(stack, "AtsSync", STARTED_ID, "candidate_unknown: no lever opportunity")
    listed = ops("--json", "dead-letters").json()
    assert {(row["event_id"], row["consumer"], row["reason"]) for row in listed} == {
        (ENDED_ID, "notify", "slack_rejected:404 no_service"),
        (STARTED_ID, "ats", "candidate_unknown: no lever opportunity"),
    }
    assert all(row["attempts"] == 1 and row["age_seconds"] >= 0 for row in listed)
    only_notify = ops("dead-letters", "--consumer", "notify")
    assert ENDED_ID in only_notify.out
    assert STARTED_ID not in only_notify.out
    status = ops("status")
    assert status.status == 1
    assert "round0-ops redrive --consumer notify" in status.out
    # written without a consumer's attempt (as Lambda's own records are): no reason known
    assert "1 dead-lettered ats event(s) (reason not on record x1)" in status.out
    # listing hides nothing: the messages are all still there
    assert len(ops("--json", "dead-letters").json()) == 2


def queued(stack: TemplateStack, consumer: str) -> list[dict[str, Any]]:
    """The bus events waiting in a consumer's own queue (received, then put back)."""
    sqs = boto3.client("sqs")
    url = stack.physical[f"{consumer}Queue.QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return [json.loads(message["Body"]) for message in messages]


def test_redrive_sends_the_original_event_to_the_consumers_queue_then_deletes_it(
    ops: Ops, stack: TemplateStack, fake_lambda: FakeLambda
) -> None:
    # Given two dead letters of notify
    dead_letter(stack, "Notify", ENDED_ID, "slack_rejected:404 no_service")
    dead_letter(stack, "Notify", STARTED_ID, "ses_rejected:MessageRejected")
    # When the Slack one is redriven
    ran = ops("redrive", "--consumer", "notify", "--reason", "slack_", "--wait", "0")
    assert ran.status == 0
    # Then its event waits in notify's own queue, paced like any other; no invocation
    [event] = queued(stack, "Notify")
    assert event["detail"]["id"] == ENDED_ID
    assert fake_lambda.invocations == []
    # the other one is left, and a second redrive finds nothing to do
    assert [row["event_id"] for row in ops("--json", "dead-letters").json()] == [STARTED_ID]
    assert ops("redrive", "--consumer", "notify", "--reason", "slack_").out.strip() == (
        "nothing to redrive"
    )
    assert len(queued(stack, "Notify")) == 1


def test_a_dead_letter_sqs_moved_is_shown_and_redriven_as_it_is(
    ops: Ops, stack: TemplateStack
) -> None:
    # Given a raw bus event SQS's redrive policy moved to the archive's dead-letter queue
    event = {
        "version": "0",
        "source": "round0",
        "detail-type": "interview_ended",
        "detail": {"id": ENDED_ID, "type": "interview_ended"},
    }
    boto3.client("sqs").send_message(
        QueueUrl=stack.physical["ArchiveDeadLetterQueue.QueueUrl"], MessageBody=json.dumps(event)
    )
    # When the operator lists the dead letters
    [row] = ops("--json", "dead-letters").json()
    # Then it shows with its id and type, and says why no reason is known
    assert (row["event_id"], row["type"], row["consumer"]) == (
        ENDED_ID,
        "interview_ended",
        "archive",
    )
    assert row["reason"].startswith("retries_exhausted: received ConsumerMaxReceives times")
    # and a redrive puts the event itself back in the archive's queue
    assert ops("redrive", "--consumer", "archive", "--wait", "0").status == 0
    assert queued(stack, "Archive") == [event]


def run_the_sweeper(
    function_env: Callable[[str], dict[str, str]], lambda_context: Any
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """Lambda's Invoke API answered by the real sweeper handler, as Lambda would."""

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        assert function == "round0-local-SweeperFunction"
        function_env("SweeperFunction")
        from round0_sweeper.app import lambda_handler

        with contextlib.redirect_stdout(io.StringIO()):  # its logs are not round0-ops' output
            report = lambda_handler(event, lambda_context)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(report).encode())}

    return invoke


def test_republish_has_the_sweeper_put_a_stored_event_on_the_bus_again(
    ops: Ops,
    stack: TemplateStack,
    received: Receive,
    fake_lambda: FakeLambda,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
) -> None:
    assert received(load_api_event("interview_started.json"))["statusCode"] == 200
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    bus = stack.physical_name("EventBus")
    events.put_rule(Name="capture", EventBusName=bus, EventPattern='{"source": ["round0"]}')
    events.put_targets(
        Rule="capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
    )
    fake_lambda.answer = run_the_sweeper(function_env, lambda_context)
    ran = ops("--json", "republish", STARTED_ID, "evt_unknown")
    # the bus's policy lets only the ingest path put round0 events: the sweeper does it
    [(function, kind, request)] = fake_lambda.invocations
    assert function == "round0-local-SweeperFunction"
    assert (kind, request) == ("RequestResponse", {"republish": [STARTED_ID, "evt_unknown"]})
    assert ran.status == 1  # one of them is not on record
    assert {row["event_id"]: row["outcome"] for row in ran.json()} == {
        STARTED_ID: "republished",
        "evt_unknown": "not on record (never received, or past EventTtlDays)",
    }
    [message] = sqs.receive_message(QueueUrl=queue).get("Messages", [])
    assert json.loads(message["Body"])["detail"]["id"] == STARTED_ID


def test_a_quarantined_event_is_seen_and_requeued(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    configure_api_key(stack)
    received(load_api_event("interview_started.json"))
    store = EventStore(stack.physical_name("EventsTable"), boto3.client("dynamodb"))
    boto3.client("dynamodb").update_item(
        TableName=stack.physical_name("EventsTable"),
        Key=event_key(STARTED_ID),
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "pending"}},
    )
    store.quarantine(STARTED_ID, "bus_refused: MalformedDetail", time.time())
    status = ops("status")
    assert status.status == 1
    assert "1 quarantined event(s)" in status.out
    listed = ops("--json", "pending").json()
    assert listed["quarantined"][0]["event_id"] == STARTED_ID
    assert listed["quarantined"][0]["reason"] == "bus_refused: MalformedDetail"
    assert "round0-ops pending --requeue EVENT_ID" in ops("pending").out
    requeued = ops("pending", "--requeue", STARTED_ID, "--requeue", "evt_other")
    assert requeued.status == 1  # the second was not quarantined
    assert f"{STARTED_ID}: requeued" in requeued.out
    assert "evt_other: not quarantined" in requeued.out
    assert ops("--json", "pending").json()["quarantined"] == []


def test_a_second_body_under_a_known_id_is_listed_and_both_are_kept(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given an event, then another body under its id (an email changed)
    first = payload_bytes("interview_started.json")
    document = json.loads(first)
    document["data"]["candidate"]["email"] = "someone.else@example.com"
    second = json.dumps(document).encode()
    assert received(signed_request(first))["statusCode"] == 200
    answer = received(signed_request(second))
    # Then the sender is told it is a duplicate with a conflict
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["conflict"]
    # and the operator sees it, with when the last came
    [conflict] = ops("--json", "pending").json()["conflicts"]
    assert (conflict["event_id"], conflict["other_bodies"]) == (STARTED_ID, 1)
    assert conflict["last_at"].endswith("Z")
    shown = ops("pending").out
    assert "events with conflicting bodies: 1" in shown
    assert STARTED_ID in shown
    # and both bodies are kept, each byte for byte
    bucket = stack.physical_name("PayloadBucket")
    s3 = boto3.client("s3")
    kept = {
        s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=payload_prefix(STARTED_ID))["Contents"]
    }
    assert kept == {first, second}


def test_pending_lists_what_the_sweeper_should_have_published_and_publishes_it(
    ops: Ops,
    stack: TemplateStack,
    received: Receive,
    fake_lambda: FakeLambda,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
) -> None:
    received(load_api_event("interview_started.json"))
    table = stack.physical_name("EventsTable")
    dynamodb = boto3.client("dynamodb")
    # as if the publish had failed ten minutes ago
    dynamodb.update_item(
        TableName=table,
        Key=event_key(STARTED_ID),
        UpdateExpression="SET #s = :p, pending = :p, received_at = :then, lease_until = :zero",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":p": {"S": "pending"},
            ":then": {"N": str(time.time() - 600)},
            ":zero": {"N": "0"},
        },
    )
    listed = ops("--json", "pending").json()
    assert [row["event_id"] for row in listed["pending"]] == [STARTED_ID]

    fake_lambda.answer = run_the_sweeper(function_env, lambda_context)
    ran = ops("pending", "--publish")
    assert ran.status == 0
    assert "swept: 1 published" in ran.out
    assert ops("--json", "pending").json()["pending"] == []


def test_pending_publish_that_quarantines_says_why_and_asks_for_a_person(
    ops: Ops, fake_lambda: FakeLambda
) -> None:
    # Given a sweep in which the bus refused an event for good
    swept = {
        "published": 0,
        "failed": 0,
        "skipped": 0,
        "quarantined": {STARTED_ID: "bus_refused: MalformedDetail"},
    }

    def sweeper(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(swept).encode())}

    fake_lambda.answer = sweeper
    # When the operator publishes now
    ran = ops("pending", "--publish")
    # Then the event, its reason and the next step are named, and the exit says: a person
    assert ran.status == 1
    assert "1 quarantined" in ran.out
    assert f"quarantined {STARTED_ID}: bus_refused: MalformedDetail" in ran.out
    assert "round0-ops pending --requeue EVENT_ID" in ran.out


def test_an_unknown_stack_says_so_and_how_to_fix_it(ops: Ops) -> None:
    ran = ops("--stack", "no-such-stack", "status")
    assert ran.status == 2
    assert "stack no-such-stack not found" in ran.err
    assert "fix: deploy it with `sam deploy`" in ran.err


def test_status_shows_each_consumers_backlog_without_receiving_it(
    ops: Ops, stack: TemplateStack
) -> None:
    # Given three events waiting in notify's queue, one of them delayed (waiting for a limit)
    sqs = boto3.client("sqs")
    url = stack.physical["NotifyQueue.QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    sqs.send_message(QueueUrl=url, MessageBody="{}", DelaySeconds=600)
    # When the operator asks for the status
    document = ops("--json", "status").json()
    # Then the backlog is shown per consumer, and nothing was received (all still waiting)
    assert document["queues"]["notify"] == {"waiting": 2, "in_flight": 0, "delayed": 1}
    assert document["queues"]["archive"] == {"waiting": 0, "in_flight": 0, "delayed": 0}
    assert "queue" in ops("status").out
