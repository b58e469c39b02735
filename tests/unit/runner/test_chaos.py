"""The chaos of `serve --chaos`: real error shapes, seeded decisions, only the functions' calls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.parsers import create_parser
from botocore.retries.standard import (
    RetryContext,
    StandardRetryConditions,
    ThrottledRetryableChecker,
)

from round0_local.chaos import (
    AwsCall,
    Caller,
    Chaos,
    ChaosConfig,
    describe_call,
    server_error_answer,
    throttle_answer,
)
from round0_local.gateway import Answer, Drop, Request
from round0_local.workers import Running
from round0_testkit.standins.recording import RecordedRequest

# what the functions call, in each protocol the chaos must speak
CALLS = [
    ("dynamodb", "PutItem"),
    ("events", "PutEvents"),
    ("secretsmanager", "GetSecretValue"),
    ("ssm", "GetParameter"),
    ("sqs", "SendMessage"),
    ("s3", "PutObject"),
    ("ses", "SendEmail"),
]
BOTOCORE = botocore.session.get_session()


def parsed_error(call: AwsCall, answer: Answer) -> tuple[dict[str, Any], RetryContext]:
    """The answer as botocore parses it, and the context its retry logic judges."""
    model = BOTOCORE.get_service_model(call.service)
    operation = model.operation_model(call.operation)
    headers = HeadersDict(dict(answer.headers))
    assert operation.output_shape is not None
    parsed = create_parser(model.protocol).parse(
        {"status_code": answer.status, "headers": headers, "body": answer.body},
        operation.output_shape,
    )
    response = AWSResponse("http://127.0.0.1", answer.status, headers, None)  # type: ignore[arg-type]
    context = RetryContext(
        attempt_number=1,
        operation_model=operation,
        parsed_response=parsed,
        http_response=response,
    )
    return parsed, context


def aws_call(service: str, operation: str) -> AwsCall:
    protocol = BOTOCORE.get_service_model(service).protocol
    json_version = BOTOCORE.get_service_model(service).metadata.get("jsonVersion", "1.0")
    return AwsCall(service, operation, protocol, f"application/x-amz-json-{json_version}")


@pytest.mark.parametrize(("service", "operation"), CALLS)
def test_a_throttle_is_one_botocore_recognises_and_retries(service: str, operation: str) -> None:
    call = aws_call(service, operation)
    parsed, context = parsed_error(call, throttle_answer(call))
    assert parsed["Error"]["Code"] in ThrottledRetryableChecker._THROTTLED_ERROR_CODES  # type: ignore[attr-defined]
    assert ThrottledRetryableChecker().is_retryable(context)


@pytest.mark.parametrize("unavailable", [False, True])
@pytest.mark.parametrize(("service", "operation"), CALLS)
def test_a_server_error_is_a_5xx_botocore_retries(
    service: str, operation: str, unavailable: bool
) -> None:
    call = aws_call(service, operation)
    answer = server_error_answer(call, unavailable)
    parsed, context = parsed_error(call, answer)
    assert answer.status == (503 if unavailable else 500)
    assert parsed["Error"]["Code"]  # a modeled error, not an unparsable body
    assert StandardRetryConditions(max_attempts=3).is_retryable(context)


def signed(service: str, key: str, **headers: str) -> Request:
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0"
    )
    return Request(
        "POST",
        "/",
        [("Authorization", authorization), *headers.items()],
        b"{}",
    )


def test_calls_are_described_by_protocol() -> None:
    assert describe_call(
        signed("dynamodb", "K", **{"X-Amz-Target": "DynamoDB_20120810.PutItem"})
    ) == AwsCall("dynamodb", "PutItem", "json", "")
    query = Request(
        "POST",
        "/",
        [
            ("Authorization", signed("email", "K").headers[0][1]),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"Action=SendEmail&Version=2010-12-01",
    )
    assert describe_call(query).operation == "SendEmail"
    upload = Request(
        "PUT",
        "/bucket/interviews/i/a.mp3?partNumber=1&uploadId=u",
        [("Authorization", signed("s3", "K").headers[0][1])],
        b"",
    )
    assert describe_call(upload) == AwsCall("s3", "UploadPart", "rest-xml", "")


class Upstream:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: Request) -> Answer:
        self.calls += 1
        return Answer(200, [("Content-Type", "application/x-amz-json-1.0")], b"{}")


def chaos(tmp_path: Path, seed: int, rate: float = 0.2, **kwargs: Any) -> Chaos:
    running = Running("request-1", "evt_1")
    return Chaos(
        ChaosConfig(rate, seed, tmp_path / f"chaos-{seed}.jsonl", **kwargs),
        say=lambda line: None,
        callers=lambda key: Caller("NotifyFunction", lambda: running) if key == "FN" else None,
        event_of=lambda clues: "evt_1",
    )


def outcomes(engine: Chaos, calls: int) -> list[str]:
    upstream = Upstream()
    seen = []
    for _ in range(calls):
        outcome = engine(signed("dynamodb", "FN", **{"X-Amz-Target": "X.GetItem"}), upstream)
        seen.append(
            f"drop {outcome.hold_seconds}" if isinstance(outcome, Drop) else str(outcome.status)
        )
    return seen


def test_the_same_seed_gives_the_same_faults_and_another_seed_others(tmp_path: Path) -> None:
    first, again, other = (
        outcomes(chaos(tmp_path / "a", 7), 300),
        outcomes(chaos(tmp_path / "b", 7), 300),
        outcomes(chaos(tmp_path / "c", 8), 300),
    )
    assert first == again
    assert first != other
    faults = sum(outcome != "200" for outcome in first)
    assert 30 <= faults <= 90  # about 20% of 300 calls
    assert {"400", "drop 6.0", "drop 0.0"} <= set(first)  # throttles, timeouts, lost answers


def test_every_fault_is_logged_with_the_event_and_request_id(tmp_path: Path) -> None:
    engine = chaos(tmp_path, 3)
    faults = sum(outcome != "200" for outcome in outcomes(engine, 100))
    records = [json.loads(line) for line in engine.config.log_path.read_text().splitlines()]
    assert len(records) == faults
    assert {(r["target"], r["event_id"], r["request_id"]) for r in records} == {
        ("NotifyFunction", "evt_1", "request-1")
    }
    assert engine.summary()[0].startswith(f"chaos: {faults} faults injected")


def test_a_lost_answer_is_forwarded_first_a_throttle_and_a_timeout_are_not(
    tmp_path: Path,
) -> None:
    engine = chaos(tmp_path, 5, rate=1.0)
    forwarded: Counter[str] = Counter()
    for _ in range(60):
        upstream = Upstream()
        outcome = engine(signed("dynamodb", "FN", **{"X-Amz-Target": "X.GetItem"}), upstream)
        kind = (
            ("lost" if outcome.hold_seconds == 0 else "timeout")
            if isinstance(outcome, Drop)
            else "error"
        )
        forwarded[f"{kind} {upstream.calls}"] += 1
    assert set(forwarded) == {"lost 1", "timeout 0", "error 0"}


def test_the_runners_and_the_operators_calls_are_left_alone(tmp_path: Path) -> None:
    engine = chaos(tmp_path, 5, rate=1.0)
    upstream = Upstream()
    for _ in range(20):
        answer = engine(signed("dynamodb", "local"), upstream)
        assert isinstance(answer, Answer)
        assert answer.status == 200
    assert upstream.calls == 20
    assert engine.config.log_path.read_text() == ""


def test_stand_in_faults_and_kills_are_seeded_too(tmp_path: Path) -> None:
    request = RecordedRequest("POST", "/ats/webhook", {"X-Round0-Event-Id": "evt_1"}, b"{}")

    def draws(engine: Chaos) -> list[str]:
        source = engine.standin_faults("ats")
        faults = [source(request) for _ in range(200)]
        kills = [engine.kill_after("NotifyFunction") for _ in range(200)]
        return [repr(f) for f in faults] + [repr(k) for k in kills]

    assert draws(chaos(tmp_path / "a", 9)) == draws(chaos(tmp_path / "b", 9))
    engine = chaos(tmp_path / "c", 9, rate=1.0, kill=0.0)
    kinds = Counter(
        "hang" if f.hang else "broken" if f.break_after is not None else str(f.status)
        for f in (engine.standin_faults("ats")(request) for _ in range(100))
        if f is not None
    )
    assert {"hang", "broken", "429"} <= set(kinds)
    assert any(kind.startswith("50") for kind in kinds)
    assert all(engine.kill_after("NotifyFunction") is None for _ in range(50))
