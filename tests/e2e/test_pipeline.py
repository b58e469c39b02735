"""The whole pipeline, end to end: `round0-local serve` in its own process."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from round0.event_store import event_key
from round0.events import InterviewStatus
from round0.keys import content_id
from round0.signature import SIGNATURE_HEADER, sign
from round0.state_store import InterviewStates
from round0_testkit.events import LOCAL_SIGNING_SECRET, WRONG_SECRET
from round0_testkit.scenario import Step, expect, renamed, seed
from round0_testkit.sender import Sent, compact, send
from round0_testkit.served import Served

pytestmark = pytest.mark.e2e
SETTLE_SECONDS = 2.0
EFFECT_TIMEOUT = 90.0


def unique(name: str) -> dict[str, Any]:
    return renamed(seed(name), uuid.uuid4().hex[:10])


def post(served: Served, payload: dict[str, Any], secret: str = LOCAL_SIGNING_SECRET) -> Sent:
    return send(served.webhook_url, compact(payload), secret)


def settled_effects(
    served: Served, event_ids: list[str], expected: Counter[tuple[str, str]]
) -> Counter[tuple[str, str]]:
    """Wait (bounded) until the expected effects are there, then a little longer for extras."""
    deadline = time.monotonic() + EFFECT_TIMEOUT

    def snapshot() -> Counter[tuple[str, str]]:
        return Counter(
            {
                (event_id, channel): n
                for event_id in event_ids
                for channel, n in served.effects_of(event_id).items()
            }
        )

    while time.monotonic() < deadline and not all(
        snapshot()[key] >= n for key, n in expected.items()
    ):
        time.sleep(0.2)
    time.sleep(SETTLE_SECONDS)
    return snapshot()


def records_once(served: Served, event_id: str, channels: set[str]) -> list[dict[str, Any]]:
    """The event's outbox records once each of `channels` has one. A dead letter can be
    reported (by a mapping's poll of the dead-letter queue) before the invocation that
    sent it ends and its other effects are reported, so waiting for it alone is a race."""
    deadline = time.monotonic() + EFFECT_TIMEOUT
    while True:
        records = [r for r in served.outbox_records() if r["event_id"] == event_id]
        if channels <= {r["channel"] for r in records} or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def expected_for(*steps: Step) -> Counter[tuple[str, str]]:
    return +expect(steps).effects


@pytest.mark.parametrize(
    "name", ["interview_started.json", "interview_ended.json", "dashboard_test_event.json"]
)
def test_each_seed_payload_produces_exactly_its_documented_side_effects(
    served: Served, name: str
) -> None:
    payload = unique(name)
    answer = post(served, payload)
    assert answer.status == 200
    assert json.loads(answer.body)["status"] == "published"
    expected = expected_for(Step(name, payload))
    assert settled_effects(served, [payload["id"]], expected) == expected
    record = served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(payload["id"])
    )["Item"]
    assert record["status"]["S"] == "published"


def test_archive_objects_are_in_the_bucket(served: Served) -> None:
    payload = unique("interview_ended.json")
    assert post(served, payload).status == 200
    expected = expected_for(Step("ended", payload))
    settled_effects(served, [payload["id"]], expected)
    interview_id = payload["data"]["interview"]["id"]
    bucket = next(
        record["bucket"]
        for record in served.outbox_records()
        if record["event_id"] == payload["id"] and record["channel"] == "s3"
    )
    listed = served.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=f"interviews/{interview_id}/"
    )
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    question_ids = [response["question_id"] for response in payload["data"]["responses"]]
    assert keys == sorted(
        [f"interviews/{interview_id}/transcript.json", f"interviews/{interview_id}/transcript.md"]
        + [f"interviews/{interview_id}/question_{qid}.mp3" for qid in question_ids]
    )


def test_sequential_duplicates_produce_no_side_effects(served: Served) -> None:
    payload = unique("interview_started.json")
    answers = [json.loads(post(served, payload).body)["status"] for _ in range(3)]
    assert answers == ["published", "duplicate", "duplicate"]
    expected = expected_for(Step("started", payload))
    assert settled_effects(served, [payload["id"]], expected) == expected


def test_concurrent_duplicates_produce_no_side_effects(served: Served) -> None:
    payload = unique("interview_ended.json")

    def deliver() -> str:
        for _ in range(150):  # ROUND0 retries a 409 later; bounded here (30 s)
            answer = post(served, payload)
            if answer.status == 200:
                return str(json.loads(answer.body)["status"])
            assert answer.status == 409
            time.sleep(0.2)
        raise AssertionError("still in flight after 150 tries")

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(pool.map(lambda _: deliver(), range(8)))
    assert outcomes == Counter({"published": 1, "duplicate": 7})
    expected = expected_for(Step("ended", payload))
    assert settled_effects(served, [payload["id"]], expected) == expected


def test_ended_before_started_completes_without_start_email_or_ats_regression(
    served: Served,
) -> None:
    suffix = uuid.uuid4().hex[:10]
    ended = renamed(seed("interview_ended.json"), suffix)
    started = renamed(seed("interview_started.json"), suffix)
    assert post(served, ended).status == 200
    expected = expected_for(Step("ended", ended), Step("started", started))
    settled_effects(served, [ended["id"]], expected)
    assert post(served, started).status == 200
    observed = settled_effects(served, [ended["id"], started["id"]], expected)
    assert observed == expected
    assert served.effects_of(started["id"]) == Counter()  # no email, no ATS update
    states = InterviewStates("round0-local-EventsTable", client=served.client("dynamodb"))
    state = states.get(ended["data"]["interview"]["id"])
    assert state is not None
    assert (state.status, state.latest_event_id) == (InterviewStatus.COMPLETED, ended["id"])
    assert state.started_at == "2024-01-16T14:30:00Z"


@pytest.mark.parametrize(
    ("make_request", "status"),
    [
        (lambda body: {SIGNATURE_HEADER: sign(body, WRONG_SECRET, int(time.time()))}, 401),
        (
            lambda body: {
                SIGNATURE_HEADER: sign(body, LOCAL_SIGNING_SECRET, int(time.time()) - 600)
            },
            401,
        ),
    ],
    ids=["bad-signature", "stale-timestamp"],
)
def test_rejected_requests_leave_nothing_behind(
    served: Served, make_request: Any, status: int
) -> None:
    payload = unique("interview_started.json")
    body = compact(payload)
    answer = requests.post(served.webhook_url, data=body, headers=make_request(body), timeout=15)
    assert answer.status_code == status
    assert answer.json()["error"] == "invalid_signature"
    time.sleep(SETTLE_SECONDS)
    assert "Item" not in served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(payload["id"])
    )
    assert served.effects_of(payload["id"]) == Counter()


def test_a_one_megabyte_interview_ended_reaches_every_consumer_intact(served: Served) -> None:
    payload = unique("interview_ended.json")
    transcript = ("Intact transcript, every byte. " * 40_000)[:1_000_000]
    payload["data"]["responses"][0]["transcript"] = transcript
    assert len(compact(payload)) > 1_000_000
    assert post(served, payload).status == 200
    expected = expected_for(Step("large", payload))
    assert settled_effects(served, [payload["id"]], expected) == expected
    interview_id = payload["data"]["interview"]["id"]
    bucket = next(
        record["bucket"]
        for record in served.outbox_records()
        if record["event_id"] == payload["id"] and record["channel"] == "s3"
    )
    archived = json.loads(
        served.client("s3")
        .get_object(Bucket=bucket, Key=f"interviews/{interview_id}/transcript.json")["Body"]
        .read()
    )
    assert transcript in json.dumps(archived, ensure_ascii=False)


def test_a_consumer_that_keeps_failing_ends_in_its_dead_letter_queue_and_the_outbox(
    served: Served,
) -> None:
    # Given Slack answers 500 to everything for a while
    served.control("slack", {"status": 500, "times": 50})
    payload = unique("interview_ended.json")
    assert post(served, payload).status == 200
    records = records_once(served, payload["id"], {"dead_letter", "ats"})
    served.control("slack", {"clear": True})
    # Then the notification is dead-lettered once, with the reason, and the others went on
    dead = [r for r in records if r["channel"] == "dead_letter"]
    assert len(dead) == 1
    assert dead[0]["function"] == "NotifyFunction"
    assert dead[0]["reason"]
    sqs = served.client("sqs")
    url = sqs.get_queue_url(QueueName=dead[0]["queue"])["QueueUrl"]
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert payload["id"] in [body["requestPayload"]["detail"]["id"] for body in bodies]
    others = served.effects_of(payload["id"])
    assert (others["ats"], others["slack"]) == (1, 0)


def test_a_permanent_failure_is_dead_lettered_at_once(served: Served) -> None:
    served.control("slack", {"status": 404, "body": "no_service", "times": 1})
    payload = unique("interview_ended.json")
    assert post(served, payload).status == 200
    records = records_once(served, payload["id"], {"dead_letter", "slack"})
    [dead] = [r for r in records if r["channel"] == "dead_letter"]
    assert dead["condition"] == "PermanentFailure"
    attempts = [r for r in records if r["channel"] == "slack"]
    assert [r["status"] for r in attempts] == [404]


def test_serve_never_prints_the_signing_secret_it_was_given(served: Served) -> None:
    # every line it printed, at start and since (the effects of the other tests)
    printed = "".join(served.output)
    assert "signing secret:" in printed
    assert LOCAL_SIGNING_SECRET not in printed


def test_a_signed_event_past_a_stores_limits_is_published_and_acted_on(served: Served) -> None:
    # Given ROUND0's event with an interview id no storage key could hold as it is
    payload = unique("interview_started.json")
    payload["data"]["interview"]["id"] = "i" * 3000
    # When it arrives signed, it is published (its keys are encoded, never refused)
    sent = post(served, payload)
    assert (sent.status, json.loads(sent.body)["status"]) == (200, "published")
    # Then every consumer does its part with it
    expected = expected_for(Step("long id", payload))
    assert settled_effects(served, [payload["id"]], expected) == expected


def test_an_authentic_body_that_is_not_json_is_kept_and_set_aside(served: Served) -> None:
    # Given a correctly signed body that is not JSON
    body = b'{"id": "evt_broken", "type": ' + uuid.uuid4().hex.encode()
    headers = {SIGNATURE_HEADER: sign(body, LOCAL_SIGNING_SECRET, int(time.time()))}
    answer = requests.post(served.webhook_url, data=body, headers=headers, timeout=15)
    # Then it is acknowledged as quarantined under its content hash, never refused
    assert answer.status_code == 202
    assert answer.json()["status"] == "quarantined"
    event_id = answer.json()["event_id"]
    assert event_id == content_id(hashlib.sha256(body).hexdigest())
    record = served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(event_id)
    )["Item"]
    assert record["status"]["S"] == "quarantined"
    # and the exact bytes are kept where the record says
    reference = record["payload_ref"]["M"]
    kept = (
        served.client("s3")
        .get_object(Bucket=reference["s3_bucket"]["S"], Key=reference["s3_key"]["S"])["Body"]
        .read()
    )
    assert kept == body
    time.sleep(SETTLE_SECONDS)
    assert served.effects_of(event_id) == Counter()


# ---------------------------------------------------------------- the front door, as API Gateway
def raw_request(
    served: Served, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request exactly as given (duplicate headers, any method), over one connection."""
    address = urlsplit(served.webhook_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def test_a_signed_body_nested_a_hundred_thousand_deep_reaches_ingest_untouched(
    served: Served,
) -> None:
    # Given a signed 400 KB body nested 100,000 levels deep (API Gateway hands it over as is)
    event_id = f"evt_deep_{uuid.uuid4().hex[:10]}"
    nested = "[" * 100_000 + "]" * 100_000
    body = (
        f'{{"id":"{event_id}","type":"interview_started","pad":"{"x" * 200_000}","data":{nested}}}'
    )
    assert len(body) > 400_000
    # When it is posted
    sent = send(served.webhook_url, body.encode(), LOCAL_SIGNING_SECRET)
    # Then ingest itself answers, as in AWS: deeper than a JSON reader goes, the body is
    # kept under its hash and set aside for an operator, never refused
    assert sent.status == 202, sent.body
    answer = json.loads(sent.body)
    assert answer["status"] == "quarantined"
    assert answer["event_id"] == content_id(hashlib.sha256(body.encode()).hexdigest())
    assert "Item" not in served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(event_id)
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/webhooks/round0"),
        ("DELETE", "/webhooks/round0"),
        ("PATCH", "/webhooks/round0"),
        ("OPTIONS", "/webhooks/round0"),
        ("GET", "/webhooks/round0"),
        ("PROPFIND", "/webhooks/round0"),
        ("POST", "/webhooks/other"),
    ],
)
def test_any_other_method_or_path_is_api_gateways_json_404(
    served: Served, method: str, path: str
) -> None:
    status, headers, body = raw_request(served, method, path, [("Content-Type", "text/plain")])
    assert (status, headers["content-type"], json.loads(body)) == (
        404,
        "application/json",
        {"message": "Not Found"},
    )
    head_status, _, head_body = raw_request(served, "HEAD", path, [])
    assert (head_status, head_body) == (404, b"")


@pytest.mark.parametrize("good_first", [True, False], ids=["good-then-bad", "bad-then-good"])
def test_a_signature_header_sent_twice_reaches_ingest_joined_as_api_gateway_joins_it(
    served: Served, good_first: bool
) -> None:
    # Given a signed event, sent with its signature header twice: the right one and a bad one
    payload = unique("interview_started.json")
    body = compact(payload)
    good = sign(body, LOCAL_SIGNING_SECRET, int(time.time()))
    bad = sign(body, WRONG_SECRET, int(time.time()))
    signatures = [good, bad] if good_first else [bad, good]
    headers = [("Content-Type", "application/json")]
    headers += [(SIGNATURE_HEADER, signature) for signature in signatures]
    # When it is posted
    status, _, answer = raw_request(served, "POST", "/webhooks/round0", headers, body)
    # Then ingest sees one header, both values joined with ", ": not a signature it
    # accepts, whichever came first (API Gateway's behaviour, not the last one winning)
    assert status == 401, answer
    assert json.loads(answer)["error"] == "invalid_signature"
    time.sleep(SETTLE_SECONDS)
    assert served.effects_of(payload["id"]) == Counter()
