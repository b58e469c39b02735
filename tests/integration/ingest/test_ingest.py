"""The ingest handler over moto: verify, parse, store once, record state, publish."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.events import InterviewStatus
from round0.keys import content_id, key_segment
from round0.large_events import resolve_event
from round0.records import InterviewState
from round0.signature import SIGNATURE_HEADER, sign
from round0.state_store import InterviewStates
from round0_testkit.events import (
    LOCAL_SIGNING_SECRET,
    http_api_event,
    load_api_event,
    payload_bytes,
    signed_request,
)
from round0_testkit.template import TemplateStack

Invoke = Callable[[dict[str, Any]], Any]  # returns conftest.HttpResult
Drain = Callable[[], list[dict[str, Any]]]
Items = Callable[[], dict[str, dict[str, Any]]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"
INTERVIEW_ID = "660f9511-f30c-52e5-b827-557766551111"


@pytest.mark.parametrize(
    ("sample", "event_id", "status"),
    [
        ("interview_started.json", STARTED_ID, "in_progress"),
        ("interview_ended.json", ENDED_ID, "completed"),
        ("dashboard_test_event.json", "evt_test_123456789", "completed"),
    ],
)
def test_each_sample_is_stored_once_published_by_reference_and_recorded(
    ingest: Invoke,
    bus_messages: Drain,
    table: Items,
    stack: TemplateStack,
    sample: str,
    event_id: str,
    status: str,
) -> None:
    # Given a sample request as API Gateway delivers it, freshly signed
    request = load_api_event(sample)
    sent = json.loads(request["body"])
    # When the handler receives it
    result = ingest(request)
    # Then it answers 200 only once the event is on the bus, as a reference to its body
    assert (result.status, result.body) == (200, {"status": "published", "event_id": event_id})
    [message] = bus_messages()
    assert (message["source"], message["detail-type"]) == ("round0", sent["type"])
    detail = message["detail"]
    assert {key: detail[key] for key in ("id", "type", "created")} == {
        key: sent[key] for key in ("id", "type", "created")
    }
    assert "data" not in detail
    assert detail["payload_ref"]["s3_bucket"] == stack.physical_name("PayloadBucket")
    # which the one helper resolves to the event exactly as ROUND0 sent it
    assert resolve_event(detail, stack.physical_name("PayloadBucket")) == sent
    # and the record is stored, published, with where the body is, never the body
    record = table()[f"event#{event_id}"]
    assert record["status"]["S"] == "published"
    assert record["pending"]["S"] == "published"  # off the sweeper's list
    assert "body" not in record
    assert "Jane" not in json.dumps(record)
    assert record["payload_ref"]["M"]["s3_key"]["S"] == detail["payload_ref"]["s3_key"]
    # and the interview's state is recorded, with no personal data in it
    interview_id = json.loads(request["body"])["data"]["interview"]["id"]
    recorded = state(stack, interview_id)
    assert recorded is not None
    assert (recorded.status.name.lower(), recorded.latest_event_id) == (status, event_id)
    assert "Jane" not in json.dumps(table()[f"interview#{interview_id}"])


def test_redelivery_after_publish_is_acknowledged_without_a_second_publish(
    ingest: Invoke, bus_messages: Drain
) -> None:
    first = ingest(load_api_event("interview_started.json"))
    again = ingest(load_api_event("duplicate_interview_started.json"))
    assert first.body["status"] == "published"
    assert (again.status, again.body["status"]) == (200, "duplicate")
    assert len(bus_messages()) == 1


def test_expiry_follows_the_ttl_setting(
    ingest: Invoke, table: Items, monkeypatch: pytest.MonkeyPatch, function_env: Any
) -> None:
    monkeypatch.setenv("EVENT_TTL_DAYS", "7")
    from round0.settings import forget_settings
    from round0.wiring import delivery

    forget_settings()
    delivery.cache_clear()
    before = int(time.time())
    ingest(load_api_event("interview_started.json"))
    expires_at = int(table()[f"event#{STARTED_ID}"]["expires_at"]["N"])
    assert before + 7 * 86_400 <= expires_at <= int(time.time()) + 7 * 86_400


def test_default_ttl_is_thirty_days(ingest: Invoke, table: Items) -> None:
    ingest(load_api_event("interview_started.json"))
    record = table()[f"event#{STARTED_ID}"]
    assert int(record["expires_at"]["N"]) - float(record["received_at"]["N"]) == pytest.approx(
        30 * 86_400, abs=1
    )


def test_a_base64_encoded_body_is_verified_on_its_raw_bytes(
    ingest: Invoke, bus_messages: Drain
) -> None:
    body = payload_bytes("interview_started.json")
    request = signed_request(body)
    request["body"] = base64.b64encode(body).decode()
    request["isBase64Encoded"] = True
    assert ingest(request).status == 200
    assert bus_messages()[0]["detail"]["id"] == STARTED_ID


def test_non_ascii_bodies_are_signed_and_published_as_sent(
    ingest: Invoke, bus_messages: Drain, stack: TemplateStack
) -> None:
    document = json.loads(payload_bytes("interview_started.json"))
    document["data"]["candidate"]["name"] = "Zoë Ñúñez 山田"
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    assert ingest(signed_request(body)).status == 200
    bucket = stack.physical_name("PayloadBucket")
    resolved = resolve_event(bus_messages()[0]["detail"], bucket)
    assert resolved["data"]["candidate"]["name"] == "Zoë Ñúñez 山田"


def test_unknown_event_type_is_stored_and_published_but_touches_no_state(
    ingest: Invoke, bus_messages: Drain, table: Items
) -> None:
    body = json.dumps(
        {"id": "evt_new_kind", "type": "interview_expired", "created": 1, "data": {"x": 1}}
    ).encode()
    result = ingest(signed_request(body))
    assert (result.status, result.body["status"]) == (200, "published")
    [message] = bus_messages()
    assert message["detail-type"] == "interview_expired"
    assert set(table()) == {"event#evt_new_kind"}


def state(stack: TemplateStack, interview_id: str = INTERVIEW_ID) -> InterviewState | None:
    """The interview's state as every reader reads it."""
    return InterviewStates(stack.physical_name("EventsTable")).get(interview_id)


def test_out_of_order_end_then_start_keeps_the_completed_state(
    ingest: Invoke, stack: TemplateStack, bus_messages: Drain
) -> None:
    # Given interview_ended arrives first
    assert ingest(load_api_event("interview_ended.json")).status == 200
    # When the late interview_started arrives
    assert ingest(load_api_event("interview_started.json")).status == 200
    # Then the state stays completed, points at the ended event, and knows both times
    assert state(stack) == InterviewState(
        interview_id=INTERVIEW_ID,
        status=InterviewStatus.COMPLETED,
        latest_event_id=ENDED_ID,
        started_at="2024-01-16T14:30:00Z",
        completed_at="2024-01-16T14:52:00Z",
    )
    # and both events are still on the bus: consumers decide with the state
    assert sorted(message["detail-type"] for message in bus_messages()) == [
        "interview_ended",
        "interview_started",
    ]


def test_in_order_start_then_end_advances_the_state(ingest: Invoke, stack: TemplateStack) -> None:
    ingest(load_api_event("interview_started.json"))
    started = state(stack)
    assert started is not None
    assert started.status is InterviewStatus.IN_PROGRESS
    ingest(load_api_event("interview_ended.json"))
    ended = state(stack)
    assert ended is not None
    assert (ended.status, ended.latest_event_id) == (InterviewStatus.COMPLETED, ENDED_ID)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["headers"].pop(SIGNATURE_HEADER.lower()), "missing"),
        (lambda r: r["headers"].update({SIGNATURE_HEADER.lower(): "sha256=abc"}), "malformed"),
        (lambda r: r["headers"].update({SIGNATURE_HEADER.lower(): "t=1,v1=00"}), "stale"),
        (lambda r: r.update({"body": r["body"].replace("Jane", "John")}), "mismatch"),
    ],
    ids=["missing", "malformed", "stale", "tampered"],
)
def test_bad_signatures_get_401_and_leave_nothing_behind(
    ingest: Invoke,
    bus_messages: Drain,
    table: Items,
    mutate: Callable[[dict[str, Any]], Any],
    reason: str,
) -> None:
    request = load_api_event("interview_started.json")
    mutate(request)
    result = ingest(request)
    assert result.status == 401
    assert result.body["error"] == "invalid_signature"
    assert table() == {}
    assert bus_messages() == []


def test_the_bad_signature_sample_is_refused(ingest: Invoke, table: Items) -> None:
    assert ingest(load_api_event("bad_signature.json")).status == 401
    assert table() == {}


def test_a_stale_but_otherwise_valid_signature_is_refused(ingest: Invoke, table: Items) -> None:
    body = payload_bytes("interview_started.json")
    request = signed_request(body, timestamp=int(time.time()) - 301)
    assert ingest(request).status == 401
    future = signed_request(body, timestamp=int(time.time()) + 400)
    assert ingest(future).status == 401
    assert table() == {}


def kept_bodies(stack: TemplateStack) -> dict[str, bytes]:
    """Every body in the payload bucket, by key."""
    s3 = boto3.client("s3")
    bucket = stack.physical_name("PayloadBucket")
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{oops", "no_event_id"),
        (b"[1, 2]", "no_event_id"),
        (b'{"type": "interview_started", "created": 1, "data": {}}', "no_event_id"),
        (b'{"id": {"nested": 1}, "type": "interview_started"}', "no_event_id"),
        (b"\xff\xfe not even text", "no_event_id"),
    ],
)
def test_an_authentic_body_without_a_usable_id_is_kept_under_its_hash_and_quarantined(
    ingest: Invoke,
    bus_messages: Drain,
    table: Items,
    stack: TemplateStack,
    body: bytes,
    reason: str,
) -> None:
    # Given a correctly signed body the door cannot key by an event id
    result = ingest(signed_request(body))
    # Then it is acknowledged (ROUND0 need not retry) and says it was set aside
    digest = hashlib.sha256(body).hexdigest()
    assert result.status == 202
    assert result.body["status"] == "quarantined"
    assert result.body["event_id"] == content_id(digest)
    assert result.body["reason"].startswith(reason)
    # and the exact bytes are kept, under a key made of their hash, on the operator's list
    assert list(kept_bodies(stack).values()) == [body]
    record = table()[f"event#{content_id(digest)}"]
    assert (record["status"]["S"], record["pending"]["S"]) == ("quarantined", "quarantined")
    assert bus_messages() == []
    # and the same body again is one record, not two
    assert ingest(signed_request(body)).status == 202
    assert len(kept_bodies(stack)) == 1


def test_a_drifted_event_is_kept_byte_for_byte_and_published(
    ingest: Invoke, bus_messages: Drain, stack: TemplateStack
) -> None:
    # Given ROUND0's own event with fields drifted from the documented shape
    body = started_with(
        id=4242,
        created="2024-01-16T14:30:00Z",
        data__interview__id=77,
        data__candidate=None,
        data__job__title=None,
    )
    # When it arrives signed
    result = ingest(signed_request(body))
    # Then the door publishes it under its id read as text, and keeps it as sent
    assert (result.status, result.body) == (200, {"status": "published", "event_id": "4242"})
    [message] = bus_messages()
    assert message["detail"]["id"] == "4242"
    assert list(kept_bodies(stack).values()) == [body]


def behind(prefix: str, stage: str = "$default", *, raw_path: bool = True) -> dict[str, Any]:
    """A new signed webhook as API Gateway delivers it when `prefix` precedes the route:
    a named stage (`/prod`) or a custom domain's API mapping (`/v1`) puts it in the path
    the client used, which is what `rawPath` and `requestContext.http.path` carry."""
    request = signed_request(payload_bytes("interview_ended.json"))
    path = prefix + request["rawPath"]
    request["requestContext"]["stage"] = stage
    request["requestContext"]["http"]["path"] = path
    if raw_path:
        request["rawPath"] = path
    else:
        del request["rawPath"]
    return request


@pytest.mark.parametrize(
    ("prefix", "stage"),
    [
        pytest.param("/prod", "prod", id="named stage"),
        pytest.param("/v1", "$default", id="custom domain base path"),
        pytest.param("/webhooks/v1", "$default", id="custom domain multi-level base path"),
        pytest.param("/v1", "prod", id="custom domain mapped to a named stage"),
    ],
)
def test_the_route_is_answered_behind_a_stage_or_a_domain_mapping_prefix(
    ingest: Invoke, bus_messages: Drain, table: Items, prefix: str, stage: str
) -> None:
    result = ingest(behind(prefix, stage))
    assert (result.status, result.body) == (200, {"status": "published", "event_id": ENDED_ID})
    assert result.headers == {"Content-Type": "application/json"}
    assert [message["detail"]["id"] for message in bus_messages()] == [ENDED_ID]
    assert table()[f"event#{ENDED_ID}"]["status"]["S"] == "published"


def test_the_request_contexts_path_serves_when_raw_path_is_absent(
    ingest: Invoke, bus_messages: Drain
) -> None:
    result = ingest(behind("/v1", raw_path=False))
    assert (result.status, result.body["status"]) == (200, "published")
    assert len(bus_messages()) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/elsewhere"),
        ("POST", "/prod/elsewhere"),
        ("POST", "/"),
        ("POST", "/webhooks/round0/"),  # as Powertools' resolver answered: exact paths
        ("POST", "/webhooks/round0/extra"),
        ("POST", "/xwebhooks/round0"),  # the route's path ends a segment of the path
        ("POST", "/webhooks/round"),
        ("GET", "/webhooks/round0"),  # a known path, another method: 404 as before, not 405
        ("get", "/webhooks/round0"),
        ("PUT", "/prod/webhooks/round0"),
        ("OPTIONS", "/webhooks/round0"),  # no CORS: no preflight answer
    ],
)
def test_other_routes_are_not_found(
    ingest: Invoke,
    table: Items,
    capsys: pytest.CaptureFixture[str],
    log_output: Any,
    method: str,
    path: str,
) -> None:
    body = payload_bytes("interview_started.json")
    header = sign(body, LOCAL_SIGNING_SECRET, int(time.time()))
    request = http_api_event(body, {SIGNATURE_HEADER: header}, path=path, method=method)
    result = ingest(request)
    assert (result.status, result.body) == (404, {"statusCode": 404, "message": "Not found"})
    assert result.headers == {"Content-Type": "application/json"}
    assert table() == {}
    # nothing was received: no metric but the cold start's, no log line
    metric_names = [
        metric["Name"]
        for line in capsys.readouterr().out.splitlines()
        if '"_aws"' in line
        for definition in json.loads(line)["_aws"]["CloudWatchMetrics"]
        for metric in definition["Metrics"]
    ]
    assert set(metric_names) <= {"ColdStart"}
    assert log_output.getvalue() == ""


def test_an_answer_has_the_shape_api_gateway_takes(ingest: Invoke, lambda_context: Any) -> None:
    from round0_ingest.app import lambda_handler

    answers = [
        lambda_handler(load_api_event("interview_started.json"), lambda_context),
        lambda_handler(load_api_event("bad_signature.json"), lambda_context),
        lambda_handler(http_api_event(b"{}", {}, path="/elsewhere"), lambda_context),
    ]
    for answer in answers:
        assert list(answer) == ["statusCode", "body", "isBase64Encoded", "headers", "cookies"]
        assert answer["isBase64Encoded"] is False
        assert answer["cookies"] == []
        assert answer["headers"]["Content-Type"] == "application/json"
        # compact JSON, as before
        assert answer["body"] == json.dumps(json.loads(answer["body"]), separators=(",", ":"))


def test_rotation_keeps_the_previous_secret_valid_and_secrets_are_cached(
    stack: TemplateStack, ingest: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a rotation in progress: a new current secret, the old one as previous
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.arns["SigningSecret"],
        SecretString=json.dumps({"current": "whsec_new", "previous": LOCAL_SIGNING_SECRET}),
    )
    calls: list[str] = []
    from botocore.client import BaseClient

    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    old = signed_request(payload_bytes("interview_started.json"), LOCAL_SIGNING_SECRET)
    new = signed_request(payload_bytes("interview_ended.json"), "whsec_new")
    # When ROUND0 signs with either
    assert ingest(old).status == 200
    assert ingest(new).status == 200
    # Then both are accepted, and each secret (the signing secret, the candidate index's
    # key) was fetched once for both requests
    assert calls.count("GetSecretValue") == 2


def test_a_secret_rotated_since_it_was_cached_is_fetched_again_once(
    stack: TemplateStack, ingest: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_REFRESH_AFTER_SECONDS", "0")
    from round0.settings import forget_settings
    from round0_ingest.wiring import ingest as ingest_factory

    forget_settings()
    ingest_factory.cache_clear()
    assert ingest(load_api_event("interview_started.json")).status == 200  # caches the secret
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.arns["SigningSecret"], SecretString="whsec_rotated"
    )
    rotated = signed_request(payload_bytes("interview_ended.json"), "whsec_rotated")
    assert ingest(rotated).status == 200


def test_unreadable_secret_is_a_retryable_503_not_a_401_or_500(
    stack: TemplateStack, ingest: Invoke, table: Items
) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=stack.arns["SigningSecret"], ForceDeleteWithoutRecovery=True
    )
    result = ingest(load_api_event("interview_started.json"))
    assert result.status == 503
    assert int(result.headers["Retry-After"]) > 0
    assert table() == {}


def test_logs_hold_no_personal_data_signature_or_secret(
    ingest: Invoke, capsys: pytest.CaptureFixture[str], log_output: Any
) -> None:
    requests = [
        load_api_event("interview_started.json"),
        load_api_event("interview_ended.json"),
        load_api_event("interview_ended.json"),
        load_api_event("bad_signature.json"),
    ]
    for request in requests:
        ingest(request)
    output = capsys.readouterr().out + log_output.getvalue()
    assert f'"event_id":"{STARTED_ID}"' in output  # lines are keyed by event id
    forbidden = [
        "Jane Smith",
        "jane@example.com",
        "React hooks extensively",
        "abc123def456",  # the interview token
        LOCAL_SIGNING_SECRET,
        *(r["headers"][SIGNATURE_HEADER.lower()].split("v1=")[1] for r in requests),
    ]
    for secret in forbidden:
        assert secret not in output


def test_metrics_count_received_rejected_duplicates_quarantined_and_published(
    ingest: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(load_api_event("interview_started.json"))
    ingest(load_api_event("interview_started.json"))
    ingest(load_api_event("bad_signature.json"))
    ingest(signed_request(b"{oops"))
    totals: dict[str, float] = {}
    reasons: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    document[metric["Name"]]
                )
        if "reason" in document:
            reasons.append(document["reason"])
    assert totals["Received"] == 3  # authentic requests only: a scanner cannot hide an outage
    assert totals["Published"] == 1
    assert totals["Duplicate"] == 1
    assert totals["Quarantined"] == 1  # authentic but without an id: kept, set aside
    assert totals["Rejected"] == 1
    assert totals["SignatureRefused"] == 1  # every kind in one series, for the alarm
    assert reasons == ["signature_mismatch"]


def test_signature_helper_matches_what_the_handler_checks(ingest: Invoke) -> None:
    body = payload_bytes("interview_started.json")
    header = sign(body, LOCAL_SIGNING_SECRET, int(time.time()))
    request = http_api_event(body, {SIGNATURE_HEADER: header})
    assert ingest(request).status == 200


# ------------------------------------------------------------------ hostile requests


def started_with(**changes: Any) -> bytes:
    """The interview_started sample with fields replaced (`data.interview.id=...`)."""
    document = json.loads(payload_bytes("interview_started.json"))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = document
        for part in parents:
            target = target[part]
        target[last] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "header",
    [
        f"t={'1' * 40},v1=00",
        f"t={'1' * 400},v1=00",
        f"t={'1' * 5000},v1=00",
        "t=,v1=00",
        "t=1,t=2,v1=00",
        "v1=00",
        "\u00fc\u00f1\u00ee",
    ],
)
def test_hostile_signature_headers_get_a_json_401(
    ingest: Invoke, table: Items, bus_messages: Drain, header: str
) -> None:
    body = payload_bytes("interview_started.json")
    result = ingest(http_api_event(body, {SIGNATURE_HEADER: header}))
    assert (result.status, result.body["error"]) == (401, "invalid_signature")
    assert table() == {}
    assert bus_messages() == []


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (started_with(id="e" * 3000), "quarantined"),  # no store can key it: its hash does
        (started_with(type="t" * 129), "quarantined"),  # no rule can route it
        (started_with(data__interview__id="i" * 3000), "published"),
        (started_with(data__interview__id="../etc"), "published"),
        (started_with(data__candidate__id="c" * 3000), "published"),
        (started_with(id="a/../../b"), "published"),
        (started_with(created=10**30), "published"),
        (started_with(data__extra=json.loads("[" * 70 + "]" * 70)), "published"),
        (
            b'{"id":"e","type":"t","created":1,"data":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}",
            "published",  # deep, but its id and type read: published like any other
        ),
        (b'{"id":"e","type":"t","created":1,"data":{"score":NaN}}', "published"),
    ],
)
def test_a_signed_event_past_a_stores_limits_is_kept_as_sent_never_refused(
    ingest: Invoke, stack: TemplateStack, body: bytes, outcome: str
) -> None:
    # Given a correctly signed event that breaks a limit of the stores or the bus
    result = ingest(signed_request(body))
    # Then it is acknowledged, published or set aside for an operator, never refused
    assert result.status in (200, 202)
    assert result.body["status"] == outcome
    assert "Retry-After" not in result.headers
    # and its exact bytes are kept
    assert list(kept_bodies(stack).values()) == [body]


def test_a_body_api_gateway_could_not_have_encoded_is_a_400(ingest: Invoke, table: Items) -> None:
    request = signed_request(payload_bytes("interview_started.json"))
    request["body"], request["isBase64Encoded"] = "not base64 at all!", True
    result = ingest(request)
    assert (result.status, result.body["error"]) == (400, "invalid_request")
    request = signed_request(b"{}")
    request["body"] = '{"id": "\ud800"}'  # a lone surrogate: no UTF-8 bytes were signed
    assert ingest(request).status == 400
    assert table() == {}


def test_the_largest_ids_within_the_limits_are_stored_and_published(
    ingest: Invoke, table: Items, bus_messages: Drain
) -> None:
    event_id = "\u00e9" * 127  # 254 bytes of UTF-8; its S3 payload key would be 788 bytes
    body = started_with(id=event_id, data__interview__id="\U0001f600" * 63)
    result = ingest(signed_request(body))
    assert (result.status, result.body["status"]) == (200, "published")
    assert f"event#{key_segment(event_id)}" in table()
    assert f"interview#{key_segment('\U0001f600' * 63)}" in table()
    assert bus_messages()[0]["detail"]["id"] == event_id
