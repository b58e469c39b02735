"""The gateway's IAM recorder: every call of a function recorded with what IAM needs,
and S3's 403 for a missing key to a role that may not list the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from round0_local.chaos import Caller
from round0_local.gateway import Answer, Drop, Request
from round0_local.iam_calls import StackNames
from round0_local.iam_recorder import AccessRecorder
from round0_testkit.iam.calls import CallLogWriter, read_call_log
from round0_testkit.iam.stack import Policy, Role, StackPolicies

BUCKET = "round0-local-payloadbucket"
FUNCTION_KEY = "ASIANOTIFY"
NOT_FOUND = Answer(404, [], b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")


def signed(key: str, method: str, path: str, service: str = "s3") -> Request:
    credential = f"{key}/20260101/us-east-1/{service}/aws4_request"
    authorization = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"
    return Request(method, path, [("Authorization", authorization)], b"")


def policies(*, may_list: bool) -> StackPolicies:
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/events/*"}
    ]
    if may_list:
        statements.append(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}
        )
    role = Role(
        "NotifyFunctionRole",
        "arn:aws:iam::123456789012:role/round0-local-NotifyFunctionRole",
        (Policy("NotifyFunctionRole/Policy0", {"Statement": statements}),),
    )
    return StackPolicies({"NotifyFunction": role})


def recorder(tmp_path: Path, stack: StackPolicies) -> AccessRecorder:
    callers = {FUNCTION_KEY: Caller("NotifyFunction", lambda: None)}
    log = CallLogWriter(tmp_path / "calls.jsonl", stack)
    return AccessRecorder(callers.get, StackNames({}, {}), stack, log)


def test_a_missing_key_is_a_403_to_a_role_that_may_not_list_the_bucket(tmp_path: Path) -> None:
    record = recorder(tmp_path, policies(may_list=False))
    answer = record(signed(FUNCTION_KEY, "GET", f"/{BUCKET}/events/e.json"), lambda _: NOT_FOUND)
    assert isinstance(answer, Answer)
    assert answer.status == 403
    assert b"<Code>AccessDenied</Code>" in answer.body
    head = record(signed(FUNCTION_KEY, "HEAD", f"/{BUCKET}/events/e.json"), lambda _: NOT_FOUND)
    assert isinstance(head, Answer)
    assert (head.status, head.body) == (403, b"")
    [get, _] = read_call_log(tmp_path / "calls.jsonl").calls
    assert (get.call, get.status) == ("s3.GetObject", 403)
    assert [(a.action, a.resource) for a in get.consulted] == [
        ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    ]


def test_a_missing_key_stays_a_404_to_a_role_that_may_list_the_bucket(tmp_path: Path) -> None:
    record = recorder(tmp_path, policies(may_list=True))
    answer = record(signed(FUNCTION_KEY, "GET", f"/{BUCKET}/events/e.json"), lambda _: NOT_FOUND)
    assert answer == NOT_FOUND
    [call] = read_call_log(tmp_path / "calls.jsonl").calls
    assert (call.status, len(call.consulted)) == (404, 1)


def test_a_found_object_consults_nothing(tmp_path: Path) -> None:
    record = recorder(tmp_path, policies(may_list=False))
    found = Answer(200, [], b"{}")
    assert record(signed(FUNCTION_KEY, "GET", f"/{BUCKET}/events/e.json"), lambda _: found) == found
    [call] = read_call_log(tmp_path / "calls.jsonl").calls
    assert (call.needs[0].action, call.consulted) == ("s3:GetObject", ())


def test_the_operators_calls_pass_untouched_and_unrecorded(tmp_path: Path) -> None:
    record = recorder(tmp_path, policies(may_list=False))
    answer = record(signed("local", "GET", f"/{BUCKET}/events/e.json"), lambda _: NOT_FOUND)
    assert answer == NOT_FOUND
    assert read_call_log(tmp_path / "calls.jsonl").calls == []


@pytest.mark.parametrize("outcome", [Answer(200), Drop(0.0)], ids=["answered", "dropped"])
def test_a_call_with_no_known_mapping_is_recorded_as_unknown(
    tmp_path: Path, outcome: Answer | Drop
) -> None:
    record = recorder(tmp_path, policies(may_list=False))
    assert record(signed(FUNCTION_KEY, "GET", f"/{BUCKET}?location"), lambda _: outcome) == outcome
    [call] = read_call_log(tmp_path / "calls.jsonl").calls
    assert call.unknown is not None
    assert call.status == (200 if isinstance(outcome, Answer) else None)
