"""Asynchronous invocations as Lambda runs them: one request id across its retries."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from round0_local.pipeline.bus_router import Deliveries, schedule_period
from round0_local.pipeline.reporter import Reporter
from round0_local.workers import Invocation
from round0_testkit.events import bus_event
from round0_testkit.scenario import renamed, seed
from round0_testkit.template import TemplateStack, load_template


class Queues:
    """The emulator's SQS, as far as the OnFailure destination needs it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's names
        return {"QueueUrl": f"http://127.0.0.1/{QueueName}"}

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803
        self.sent.append({"queue": QueueUrl, **json.loads(MessageBody)})


class Emulator:
    def __init__(self) -> None:
        self.queues = Queues()

    def client(self, service: str) -> Any:
        return self.queues if service == "sqs" else None


class Integrations:
    def saw_event(self, event: dict[str, Any]) -> None:
        return


class Pool:
    size = 2


def deliveries(tmp_path: Path, answers: list[Invocation]) -> tuple[Deliveries, list[str], Emulator]:
    calls: list[str] = []
    emulator = Emulator()

    def run(function: str, payload: Any, request_id: str | None, event_id: str) -> Invocation:
        assert request_id is not None
        calls.append(request_id)
        answer = answers[min(len(calls), len(answers)) - 1]
        return Invocation(answer.ok, error_type=answer.error_type, request_id=request_id)

    # the consumers read queues now; an asynchronous invocation still honours a
    # function's EventInvokeConfig where one is set (a user's own function may have one)
    template = load_template()
    template["Resources"]["NotifyFunction"]["Properties"]["EventInvokeConfig"] = {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {
            "OnFailure": {
                "Type": "SQS",
                "Destination": {"Fn::GetAtt": ["NotifyDeadLetterQueue", "Arn"]},
            }
        },
    }
    runner = Deliveries(
        TemplateStack(template),
        emulator,  # type: ignore[arg-type]
        run,
        lambda function: Pool(),  # type: ignore[arg-type,return-value]
        Reporter(lambda line: None, tmp_path / "outbox.jsonl"),
        Integrations(),  # type: ignore[arg-type]
        lambda event_id, timeout: None,
        retry_delay_seconds=0.0,
    )
    return runner, calls, emulator


def wait_done(runner: Deliveries) -> None:
    deadline = time.monotonic() + 10
    while runner.busy() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not runner.busy()


def test_retries_keep_the_request_id_and_the_dead_letter_names_it(tmp_path: Path) -> None:
    failed = Invocation(ok=False, error_type="Runtime.ExitError")
    runner, calls, emulator = deliveries(tmp_path, [failed])
    event = bus_event(renamed(seed("interview_started.json"), "d1"))
    request_id = runner.submit("NotifyFunction", event)
    wait_done(runner)
    assert calls == [request_id] * 3  # MaximumRetryAttempts 2: three attempts, one request id
    [record] = emulator.queues.sent
    assert record["queue"].endswith("round0-local-NotifyDeadLetterQueue")
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    assert record["responsePayload"]["errorType"] == "Runtime.ExitError"


def test_a_duplicate_delivery_is_another_invocation_with_its_own_request_id(
    tmp_path: Path,
) -> None:
    done = Invocation(ok=True)
    runner, calls, emulator = deliveries(tmp_path, [done])
    event = bus_event(renamed(seed("interview_started.json"), "d2"))
    first, second = runner.submit("NotifyFunction", event), runner.submit("NotifyFunction", event)
    wait_done(runner)
    assert first != second
    assert sorted(calls) == sorted([first, second])
    assert emulator.queues.sent == []
    runner.stop()


def test_rate_schedules_are_run_locally_and_crons_are_not() -> None:
    assert schedule_period("rate(2 minutes)") == 120
    assert schedule_period("rate(1 hour)") == 3600
    assert schedule_period("cron(0 12 * * ? *)") is None
