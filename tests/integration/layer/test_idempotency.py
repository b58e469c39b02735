"""round0.idempotency over DynamoDB (moto): once per key, held by its owner (a queue
message's lineage, or the request id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.idempotency import IdempotencyStore, InProgressElsewhere, Invocation
from round0_testkit.template import TemplateStack


class Context:
    def __init__(self, request_id: str, millis: int = 60_000) -> None:
        self.aws_request_id = request_id
        self._millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self._millis


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def store_for(
    stack: TemplateStack,
    request_id: str,
    clock: Clock,
    millis: int = 60_000,
    owner: str | None = None,
) -> IdempotencyStore:
    invocation = Invocation(clock)
    invocation.register(Context(request_id, millis), owner)
    return IdempotencyStore(
        stack.physical_name("IdempotencyTable"), 7 * 86_400, invocation,
        boto3.client("dynamodb"), clock,
    )  # fmt: skip


def recorded(runs: list[int], run: int, result: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """An action that notes it ran, then gives `result`."""

    def action() -> dict[str, Any]:
        runs.append(run)
        return result

    return action


class Crash(BaseException):
    """The process dies: nothing after it runs."""


def test_an_action_runs_once_and_later_calls_get_its_result(stack: TemplateStack) -> None:
    clock, runs = Clock(), list[int]()
    store = store_for(stack, "req-1", clock)
    for _ in range(2):
        assert store.run_once("slack#evt_1", recorded(runs, 1, {"status": 200})) == {"status": 200}
    other = store_for(stack, "req-2", clock)
    assert other.run_once("slack#evt_1", lambda: pytest.fail("ran twice")) == {"status": 200}
    assert runs == [1]


def test_lambdas_retry_takes_its_own_mark_over_a_duplicate_ends_at_once(
    stack: TemplateStack,
) -> None:
    clock, sent = Clock(), []

    def send() -> dict[str, Any]:
        sent.append(1)
        raise Crash

    owner = store_for(stack, "req-owner", clock)
    with pytest.raises(Crash):
        owner.run_once("archive#evt_1", send)
    # a duplicate delivery (another request id) while the owner's mark lives
    with pytest.raises(InProgressElsewhere):
        store_for(stack, "req-duplicate", clock).run_once("archive#evt_1", send)
    # Lambda's retry of the owner (the same request id) takes the mark over
    assert owner.run_once("archive#evt_1", lambda: {"copied": 2}) == {"copied": 2}
    assert sent == [1]


def test_a_queue_message_that_comes_back_takes_its_own_mark_over_in_a_new_invocation(
    stack: TemplateStack,
) -> None:
    # Given an invocation that held the mark for message m-1 and died half-way (or failed
    # and could not delete its mark), well before its deadline
    clock, sent = Clock(), list[str]()

    def crash() -> dict[str, Any]:
        sent.append("first")
        raise Crash

    with pytest.raises(Crash):
        store_for(stack, "req-1", clock, millis=600_000, owner="m-1").run_once("slack#evt_1", crash)
    clock.now += 60  # the message's backoff: a minute, the holder's deadline is 10 away
    # When another message of the same event arrives (EventBridge's duplicate)
    with pytest.raises(InProgressElsewhere):
        store_for(stack, "req-2", clock, owner="m-2").run_once("slack#evt_1", crash)

    # Then it is told the work is held; but m-1 itself, back in a new invocation, takes
    # its own mark over and does the work (never lost while the deadline runs)
    def send() -> dict[str, Any]:
        sent.append("again")
        return {"status": 200}

    assert store_for(stack, "req-3", clock, owner="m-1").run_once("slack#evt_1", send) == {
        "status": 200
    }
    assert sent == ["first", "again"]


def test_a_mark_whose_owner_ran_out_of_time_is_anyones(stack: TemplateStack) -> None:
    clock = Clock()
    with pytest.raises(Crash):
        store_for(stack, "req-1", clock, millis=30_000).run_once(
            "email#evt_1", lambda: (_ for _ in ()).throw(Crash)
        )
    clock.now += 31
    assert store_for(stack, "req-2", clock).run_once("email#evt_1", lambda: {"ok": 1}) == {"ok": 1}


def test_a_failure_releases_the_mark_so_the_next_attempt_runs_at_once(stack: TemplateStack) -> None:
    clock = Clock()

    def refused() -> dict[str, Any]:
        raise RuntimeError("slack 500")

    with pytest.raises(RuntimeError):
        store_for(stack, "req-1", clock).run_once("slack#evt_1", refused)
    assert store_for(stack, "req-2", clock).run_once("slack#evt_1", lambda: {"ok": 1}) == {"ok": 1}


def test_a_result_past_its_expiry_counts_as_never_done(stack: TemplateStack) -> None:
    clock, runs = Clock(), list[int]()
    store_for(stack, "req-1", clock).run_once("ats#evt_1", recorded(runs, 1, {}))
    clock.now += 7 * 86_400 + 1
    store_for(stack, "req-2", clock).run_once("ats#evt_1", recorded(runs, 2, {}))
    assert runs == [1, 2]


def test_a_mark_holds_ids_and_results_only(stack: TemplateStack) -> None:
    store_for(stack, "req-1", Clock()).run_once("email#evt_1", lambda: {"message_id": "m-1"})
    [item] = boto3.client("dynamodb").scan(TableName=stack.physical_name("IdempotencyTable"))[
        "Items"
    ]
    assert set(item) == {"id", "status", "owner", "expiration", "data"}
    assert (item["status"]["S"], item["owner"]["S"]) == ("COMPLETED", "req-1")


def faulty_store(stack: TemplateStack, clock: Clock, failures: int) -> tuple[IdempotencyStore, Any]:
    from round0_testkit.faults import FaultyClient, client_error

    client = FaultyClient(boto3.client("dynamodb"))
    client.fail(
        "update_item",
        failures,
        client_error("ProvisionedThroughputExceededException", "UpdateItem"),
    )
    invocation = Invocation(clock)
    invocation.register(Context("req-1"))
    store = IdempotencyStore(
        stack.physical_name("IdempotencyTable"),
        7 * 86_400,
        invocation,
        client,  # type: ignore[arg-type]
        clock,
    )
    return store, client


def test_a_completion_write_that_fails_is_tried_again_not_raised(
    stack: TemplateStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("round0.retry.pause", lambda seconds: None)
    clock, runs = Clock(), list[int]()
    store, _ = faulty_store(stack, clock, failures=2)
    assert store.run_once("slack#evt_1", recorded(runs, 1, {"ok": 1})) == {"ok": 1}
    [item] = boto3.client("dynamodb").scan(TableName=stack.physical_name("IdempotencyTable"))[
        "Items"
    ]
    assert item["status"]["S"] == "COMPLETED"


def test_a_completion_write_that_keeps_failing_leaves_the_mark_to_its_deadline(
    stack: TemplateStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the side effect is done: raising would have Lambda retry and do it again
    monkeypatch.setattr("round0.retry.pause", lambda seconds: None)
    clock, runs = Clock(), list[int]()
    store, _ = faulty_store(stack, clock, failures=10)
    assert store.run_once("slack#evt_1", recorded(runs, 1, {"ok": 1})) == {"ok": 1}
    # a duplicate meanwhile waits for the owner; only after its deadline is the mark anyone's
    with pytest.raises(InProgressElsewhere):
        store_for(stack, "req-2", clock).run_once("slack#evt_1", lambda: {"again": 1})
    assert runs == [1]
