"""round0-ops against the local stack in moto, registered in CloudFormation as serve does.

Lambda's Invoke API is played by a recorder (the e2e tests use round0-local serve's)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from round0_ops import cli
from round0_ops.stack import Stack
from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack

# where round0-local serve would answer the webhook (the Outputs' WebhookUrl)
LOCAL_API = {"WebhookApi": "http://127.0.0.1:3000"}


@dataclass
class FakeLambda:
    """Lambda's Invoke API: records each invocation; `answer` decides what it says."""

    invocations: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    answer: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        event = json.loads(Payload)
        self.invocations.append((FunctionName, InvocationType, event))
        if self.answer is not None:
            return self.answer(FunctionName, event)
        return {"StatusCode": 202 if InvocationType == "Event" else 200}


@pytest.fixture
def fake_lambda(monkeypatch: pytest.MonkeyPatch) -> FakeLambda:
    fake = FakeLambda()
    real_client = Stack.client

    def client(self: Stack, service: str) -> Any:
        return fake if service == "lambda" else real_client(self, service)

    monkeypatch.setattr(Stack, "client", client)
    return fake


@pytest.fixture
def ops(stack: TemplateStack, fake_lambda: FakeLambda) -> Callable[..., Ran]:
    """Run `round0-ops --stack round0-local ARGS...` in this process; what it printed."""
    stack.register(boto3.client("cloudformation"), LOCAL_API)

    def run(*arguments: str) -> Ran:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.main(["--stack", stack.stack_name, *arguments])
        return Ran(status, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def received(
    function_env: Callable[[str], dict[str, str]], lambda_context: Any
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Hand an API Gateway event to the real ingest handler; its answer."""

    def receive(request: dict[str, Any]) -> dict[str, Any]:
        function_env("IngestFunction")
        from round0_ingest.app import lambda_handler

        answer: dict[str, Any] = lambda_handler(request, lambda_context)
        return answer

    return receive
