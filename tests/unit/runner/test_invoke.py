"""`round0-local invoke`: `sam local invoke`'s rules for environment files, and sample
API events signed again (their signatures go stale after 5 minutes)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from round0.signature import SignatureError, verify_signature
from round0_local.invoke import InvokeError, env_value, fresh_event, merge_env_vars
from round0_testkit.events import LOCAL_SIGNING_SECRET, WRONG_SECRET, signed_request

DECLARED = {"TABLE": "from-template", "BUCKET": "from-template", "LEVEL": "INFO"}


# ---------------------------------------------------------------- environment files
def test_without_a_file_the_templates_values_stay() -> None:
    assert merge_env_vars(DECLARED, {}, "Fn") == DECLARED


def test_parameters_apply_to_every_function() -> None:
    env_file = {"Parameters": {"LEVEL": "DEBUG"}}
    assert merge_env_vars(DECLARED, env_file, "Fn")["LEVEL"] == "DEBUG"
    assert merge_env_vars(DECLARED, env_file, "Other")["LEVEL"] == "DEBUG"


def test_the_functions_own_values_win_over_parameters() -> None:
    env_file = {"Parameters": {"TABLE": "shared"}, "Fn": {"TABLE": "mine"}}
    merged = merge_env_vars(DECLARED, env_file, "Fn")
    assert merged == {"TABLE": "mine", "BUCKET": "from-template", "LEVEL": "INFO"}
    assert merge_env_vars(DECLARED, env_file, "Other")["TABLE"] == "shared"


def test_a_variable_the_template_does_not_declare_is_not_set() -> None:
    env_file = {"Parameters": {"EXTRA": "x"}, "Fn": {"ALSO_EXTRA": "y"}}
    assert merge_env_vars(DECLARED, env_file, "Fn") == DECLARED


def test_the_function_is_found_by_its_function_name_too() -> None:
    env_file = {"my-function": {"TABLE": "by-name"}}
    assert merge_env_vars(DECLARED, env_file, "Fn", "my-function")["TABLE"] == "by-name"
    # its logical id first, as SAM looks it up
    both = {"Fn": {"TABLE": "by-id"}, "my-function": {"TABLE": "by-name"}}
    assert merge_env_vars(DECLARED, both, "Fn", "my-function")["TABLE"] == "by-id"


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        ("x", "x"),
        (5, "5"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ({"Ref": "Table"}, ""),
        (["a"], ""),
    ],
)
def test_values_are_passed_as_sam_passes_them(value: Any, passed: str) -> None:
    assert env_value(value) == passed
    assert merge_env_vars(DECLARED, {"Fn": {"TABLE": value}}, "Fn")["TABLE"] == passed


def test_a_file_whose_entries_are_not_objects_is_refused() -> None:
    with pytest.raises(InvokeError, match="in incorrect format"):
        merge_env_vars(DECLARED, {"Fn": "TABLE=x"}, "Fn")


# ---------------------------------------------------------------- events signed again
def stale(secret: str) -> dict[str, Any]:
    return signed_request(b'{"id":"evt_1","type":"interview_started"}', secret, 1_600_000_000)


def signature_of(event: dict[str, Any]) -> str:
    [value] = [v for k, v in event["headers"].items() if k.lower() == "x-webhook-signature"]
    return str(value)


def test_a_sample_signed_with_the_local_secret_is_signed_again_now() -> None:
    event = stale(LOCAL_SIGNING_SECRET)
    with pytest.raises(SignatureError, match="outside the accepted window"):
        verify_signature(signature_of(event), b"", [LOCAL_SIGNING_SECRET], time.time())
    fresh, resigned = fresh_event(event)
    assert resigned
    body = fresh["body"].encode()
    assert verify_signature(signature_of(fresh), body, [LOCAL_SIGNING_SECRET], time.time())
    # nothing else of the event changed
    assert {k: v for k, v in fresh.items() if k != "headers"} == {
        k: v for k, v in event.items() if k != "headers"
    }


def test_the_bad_signature_sample_stays_bad_but_fresh() -> None:
    fresh, resigned = fresh_event(stale(WRONG_SECRET))
    assert resigned
    body = fresh["body"].encode()
    assert verify_signature(signature_of(fresh), body, [WRONG_SECRET], time.time())
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(signature_of(fresh), body, [LOCAL_SIGNING_SECRET], time.time())


def test_an_event_signed_with_another_secret_is_left_alone() -> None:
    event = stale("whsec_someone_elses")
    assert fresh_event(event) == (event, False)


@pytest.mark.parametrize(
    "event", [{}, "text", {"detail": {"id": "evt_1"}}, {"headers": {}, "body": "{}"}]
)
def test_events_without_a_signature_are_left_alone(event: Any) -> None:
    assert fresh_event(event) == (event, False)
