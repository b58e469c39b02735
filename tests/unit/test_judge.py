"""How a run under chaos is judged: each loss and each double put down to its cause."""

from __future__ import annotations

from collections import Counter
from typing import Any

from round0_testkit.scenario import Step, expect, judge, renamed, seed

STARTED = renamed(seed("interview_started.json"), "j1")
ENDED = renamed(seed("interview_ended.json"), "j2")
EXPECTED = expect([Step("started", STARTED), Step("ended", ENDED)])


def effect(
    event: dict[str, Any], channel: str, request: str = "r1", attempt: int = 1, **more: Any
) -> dict[str, Any]:
    return {"event_id": event["id"], "channel": channel, "function": "F",
            "request_id": request, "attempt": attempt, **more}  # fmt: skip


def all_expected() -> list[dict[str, Any]]:
    return [
        effect(STARTED, "email"),
        effect(STARTED, "ats", status=200),
        effect(ENDED, "slack", status=200),
        effect(ENDED, "ats", status=200),
        *(effect(ENDED, "s3") for _ in range(4)),
    ]


def test_a_run_that_did_everything_once_is_clean() -> None:
    verdict = judge(EXPECTED, all_expected())
    assert set(verdict.totals().values()) == {0}


def test_a_missing_effect_is_lost_silently_unless_its_event_was_dead_lettered() -> None:
    outbox = [r for r in all_expected() if r["channel"] != "email"]
    assert judge(EXPECTED, outbox).lost_silently == Counter({(STARTED["id"], "email"): 1})
    dead = effect(STARTED, "dead_letter", reason="ses_rejected") | {"function": "NotifyFunction"}
    verdict = judge(EXPECTED, [*outbox, dead])
    assert verdict.lost_silently == Counter()
    assert verdict.lost_dead_lettered == Counter({(STARTED["id"], "email"): 1})


def test_a_refused_request_is_no_effect() -> None:
    outbox = [*all_expected(), effect(ENDED, "slack", status=429)]
    assert set(judge(EXPECTED, outbox).totals().values()) == {0}


def test_an_email_sent_again_after_its_answer_was_lost_is_ambiguous() -> None:
    outbox = [*all_expected(), effect(STARTED, "email")]
    lost = {"scope": "aws", "target": "NotifyFunction", "kind": "lost_answer",
            "event_id": STARTED["id"], "service": "ses", "operation": "SendEmail"}  # fmt: skip
    assert judge(EXPECTED, outbox).doubled_unexplained == Counter({(STARTED["id"], "email"): 1})
    verdict = judge(EXPECTED, outbox, [lost])
    assert verdict.doubled_ambiguous == Counter({(STARTED["id"], "email"): 1})
    assert verdict.doubled_unexplained == Counter()


def test_a_repeat_by_lambdas_retry_after_a_killed_attempt_is_at_least_once() -> None:
    outbox = [*all_expected(), effect(ENDED, "slack", attempt=2, status=200)]
    kill = {"scope": "kill", "target": "NotifyFunction", "kind": "kill",
            "event_id": ENDED["id"], "request_id": "r1"}  # fmt: skip
    verdict = judge(EXPECTED, outbox, [kill])
    assert verdict.doubled_after_failed_attempt == Counter({(ENDED["id"], "slack"): 1})
    assert verdict.killed_after_effect == Counter({(ENDED["id"], "slack"): 1})


def test_a_repeat_on_the_keyed_ats_webhook_is_the_receivers_to_drop() -> None:
    outbox = [*all_expected(), effect(ENDED, "ats", attempt=3, status=200)]
    assert judge(EXPECTED, outbox).doubled_keyed == Counter({(ENDED["id"], "ats"): 1})


def test_a_side_effect_done_by_two_invocations_with_nothing_to_excuse_it_is_a_bug() -> None:
    outbox = [*all_expected(), effect(STARTED, "email", request="r2")]
    throttled = {"scope": "aws", "target": "NotifyFunction", "kind": "throttle",
                 "event_id": STARTED["id"], "service": "ses", "operation": "SendEmail"}  # fmt: skip
    verdict = judge(EXPECTED, outbox, [throttled])
    assert verdict.doubled_unexplained == Counter({(STARTED["id"], "email"): 1})


def test_a_repeat_by_another_delivery_after_a_lost_answer_is_ambiguous() -> None:
    # the first invocation's answer was lost: it failed, released its mark, and a
    # duplicate delivery of the event did it again
    outbox = [*all_expected(), effect(ENDED, "slack", request="r2", status=200)]
    broken = {"scope": "standin", "target": "slack", "kind": "broken_body",
              "event_id": ENDED["id"], "request_id": None}  # fmt: skip
    verdict = judge(EXPECTED, outbox, [broken])
    assert verdict.doubled_ambiguous == Counter({(ENDED["id"], "slack"): 1})
