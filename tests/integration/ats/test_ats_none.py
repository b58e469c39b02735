"""AtsAdapter=none (the default): the function does nothing, and says so once."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3

from round0_testkit.standins.ats import AtsStandIn
from round0_testkit.template import TemplateStack

Event = dict[str, Any]


def test_the_template_default_is_none(stack: TemplateStack) -> None:
    assert stack.template["Parameters"]["AtsAdapter"]["Default"] == "none"
    assert stack.function_environment("AtsSyncFunction")["ATS_ADAPTER"] == "none"


def test_nothing_is_sent_stored_or_dead_lettered_and_it_is_said_once(
    sync_ats: Callable[[Event], None],
    ats_standin: AtsStandIn,
    stack: TemplateStack,
    started: Event,
    ended: Event,
    dead_letters: Callable[[], list[Event]],
    log_output: io.StringIO,
) -> None:
    # When both events arrive with the ATS sync off
    sync_ats(started)
    sync_ats(ended)

    # Then no ATS hears of them, nothing is recorded, nothing is dead-lettered
    assert ats_standin.requests == []
    assert dead_letters() == []
    idempotency = boto3.client("dynamodb").scan(TableName=stack.physical_name("IdempotencyTable"))[
        "Items"
    ]
    assert idempotency == []
    # and the function said why, once (not once per event)
    assert log_output.getvalue().count("ATS sync is off (AtsAdapter=none)") == 1
