"""How round0-ops reads a dead-letter queue (a fake SQS, no AWS): counting never receives;
reading long-polls, hides messages only briefly, and does not stop at an empty answer
while the queue's count says more are there."""

from __future__ import annotations

import json
from typing import Any

from round0_ops.dead_letters import EMPTY_POLLS, LIST_HOLD_SECONDS, DeadLetterQueue


def message(number: int) -> dict[str, Any]:
    body = {"requestPayload": {"detail-type": "interview_ended", "detail": {"id": f"evt_{number}"}}}
    return {
        "MessageId": f"m-{number}",
        "ReceiptHandle": f"h-{number}",
        "Body": json.dumps(body),
        "Attributes": {"SentTimestamp": "1700000000000"},
    }


class Sqs:
    """Answers each ReceiveMessage with the next of `answers`, then nothing."""

    def __init__(self, visible: int, answers: list[list[dict[str, Any]]]) -> None:
        self.visible = visible
        self.answers = answers
        self.receives: list[dict[str, Any]] = []
        self.released: list[str] = []

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(self.visible),
                "ApproximateNumberOfMessagesNotVisible": "0",
            }
        }

    def receive_message(self, **arguments: Any) -> dict[str, Any]:
        self.receives.append(arguments)
        return {"Messages": self.answers.pop(0) if self.answers else []}

    def change_message_visibility(self, ReceiptHandle: str, **_: Any) -> None:  # noqa: N803
        self.released.append(ReceiptHandle)


def test_counting_never_receives() -> None:
    sqs = Sqs(3, [[message(1)]])
    assert DeadLetterQueue("notify", "url", sqs).count() == 3
    assert sqs.receives == []


def test_an_empty_answer_does_not_end_a_read_while_the_count_says_more_wait() -> None:
    # Given two letters, which SQS answers only on the second and third receive
    sqs = Sqs(2, [[], [message(1)], [], [message(2)]])
    queue = DeadLetterQueue("notify", "url", sqs)
    # When round0-ops lists them
    with queue.held(LIST_HOLD_SECONDS) as letters:
        assert [letter.event_id for letter in letters] == ["evt_1", "evt_2"]
    # Then it long-polled, hid them briefly, and showed them again at once
    assert all(r["WaitTimeSeconds"] >= 1 for r in sqs.receives)
    assert {r["VisibilityTimeout"] for r in sqs.receives} == {LIST_HOLD_SECONDS}
    assert sqs.released == ["h-1", "h-2"]
    assert not queue.truncated


def test_a_read_gives_up_after_empty_long_polls_when_the_count_was_high() -> None:
    # Given a count of 3 but one letter only (another reader holds the others)
    sqs = Sqs(3, [[message(1)]])
    with DeadLetterQueue("notify", "url", sqs).held() as letters:
        assert len(letters) == 1
    assert len(sqs.receives) == 1 + EMPTY_POLLS  # bounded
