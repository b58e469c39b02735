"""The gateway's own answers: Lambda's Invoke API for the local functions."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from round0_local.gateway import Gateway, InvokeResult, Request, function_name_of
from round0_testkit.template import ACCOUNT, REGION


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("round0-local-NotifyFunction", "round0-local-NotifyFunction"),
        ("round0-local-NotifyFunction:$LATEST", "round0-local-NotifyFunction"),
        (
            quote(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:round0-local-NotifyFunction", ""),
            "round0-local-NotifyFunction",
        ),
        (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:live", "fn"),
        (f"{ACCOUNT}:function:fn", "fn"),
    ],
)
def test_a_function_is_found_by_name_or_arn(label: str, name: str) -> None:
    assert function_name_of(label) == name


class Functions:
    def __init__(self, result: InvokeResult) -> None:
        self.result = result
        self.calls: list[tuple[str, str, Any]] = []

    def function_named(self, name: str) -> str | None:
        return "NotifyFunction" if name == "round0-local-NotifyFunction" else None

    def invoke(self, function: str, payload: Any) -> InvokeResult:
        self.calls.append(("sync", function, payload))
        return self.result

    def invoke_async(self, function: str, payload: Any) -> str:
        self.calls.append(("async", function, payload))
        return "request-async"


def invoke_request(kind: str | None, body: bytes = b'{"detail": {"id": "evt_1"}}') -> Request:
    headers = [("Host", "127.0.0.1:5000"), ("Content-Type", "application/json")]
    if kind is not None:
        headers.append(("X-Amz-Invocation-Type", kind))
    return Request("POST", "/2015-03-31/functions/fn/invocations", headers, body)


def header(answer: Any, name: str) -> str | None:
    return next((value for key, value in answer.headers if key.lower() == name.lower()), None)


def test_request_response_answers_the_result_with_the_request_id() -> None:
    functions = Functions(InvokeResult("request-1", ok=True, payload={"done": 1}))
    answer = Gateway._invoke(functions, "NotifyFunction", invoke_request(None))
    assert (answer.status, json.loads(answer.body)) == (200, {"done": 1})
    assert header(answer, "x-amzn-RequestId") == "request-1"
    assert header(answer, "X-Amz-Function-Error") is None
    assert functions.calls == [("sync", "NotifyFunction", {"detail": {"id": "evt_1"}})]


def test_a_function_error_is_a_200_with_the_error_header_and_document() -> None:
    error = {"errorType": "TransientFailure", "errorMessage": "slack_unavailable"}
    functions = Functions(InvokeResult("request-2", ok=False, payload=error))
    answer = Gateway._invoke(functions, "NotifyFunction", invoke_request("RequestResponse"))
    assert (answer.status, json.loads(answer.body)) == (200, error)
    assert header(answer, "X-Amz-Function-Error") == "Unhandled"


def test_event_is_queued_and_answered_202_dry_run_204() -> None:
    functions = Functions(InvokeResult("unused", ok=True, payload=None))
    queued = Gateway._invoke(functions, "NotifyFunction", invoke_request("Event"))
    assert (queued.status, queued.body, header(queued, "x-amzn-RequestId")) == (
        202,
        b"",
        "request-async",
    )
    assert Gateway._invoke(functions, "NotifyFunction", invoke_request("DryRun")).status == 204
    assert [call[0] for call in functions.calls] == ["async"]


@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("RequestResponse", b"{not json", "InvalidRequestContentException"),
        ("Sometimes", b"{}", "InvalidParameterValueException"),
    ],
)
def test_bad_invocations_are_refused(kind: str, body: bytes, code: str) -> None:
    functions = Functions(InvokeResult("unused", ok=True, payload=None))
    answer = Gateway._invoke(functions, "NotifyFunction", invoke_request(kind, body))
    assert (answer.status, header(answer, "x-amzn-ErrorType")) == (400, code)
    assert functions.calls == []
