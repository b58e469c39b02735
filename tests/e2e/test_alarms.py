"""The template's alarms, rehearsed locally: a signing secret rotated on ROUND0's side
only, at the volume of a few interviews an hour, is seen within minutes.

`round0-local serve` forwards the functions' EMF metrics to its CloudWatch and
evaluates every alarm of the template on them (`round0_local.alarms`): two refused
webhooks put `SignatureRejectionsAlarm` in ALARM, its notification reaches the alarm
topic (the outbox), `round0-ops status` shows the alarm, the refusals and their likely
cause; once the secret is fixed, an accepted webhook clears it. This module runs its
own `serve`: the alarm weighs refusals against every webhook accepted in the hour.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served

from .conftest import serving

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 120.0
ROTATED = "the-secret-round0-now-uses"


@pytest.fixture(scope="module")
def alarmed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serving(tmp_path_factory.mktemp("alarmed"), "--retry-delay", "0.2")


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    pytest.fail(f"timed out waiting for {what}")


def notifications(served: Served, alarm: str) -> list[dict[str, Any]]:
    return [
        record
        for record in served.outbox_records()
        if record["channel"] == "alarm" and record["alarm"] == alarm
    ]


def test_a_secret_rotated_on_one_side_fires_the_alarm_at_low_volume(alarmed: Served) -> None:
    tag = uuid.uuid4().hex[:10]
    started = renamed(seed("interview_started.json"), tag)
    ended = renamed(seed("interview_ended.json"), tag)
    # Given ROUND0 signs with a secret the stack does not hold, and one interview (two
    # webhooks) in the hour
    for document in (started, ended):
        sent = send(alarmed.webhook_url, compact(document), ROTATED)
        assert sent.status == 401, sent.body
    # Then the signature alarm fires, and its notification reaches the alarm topic
    wait_for(
        lambda: (
            [r["state"] for r in notifications(alarmed, "SignatureRejectionsAlarm")] == ["ALARM"]
        ),
        "SignatureRejectionsAlarm in ALARM",
    )
    [notice] = notifications(alarmed, "SignatureRejectionsAlarm")
    assert notice["topic"] == alarmed.outputs()["AlarmTopicArn"]
    # and status shows the alarm, both refusals, and names the likely cause and its fix
    status = alarmed.ops("status")
    assert status.status == 1, status.out
    assert "alarm round0-local-SignatureRejectionsAlarm is in ALARM" in status.out
    assert "signing secret mismatch" in status.out
    secret_arn = alarmed.outputs()["SigningSecretArn"]
    assert f"put-secret-value --secret-id {secret_arn}" in status.out
    webhooks = alarmed.ops("--json", "status").json()["webhooks"]
    assert (webhooks["accepted"], webhooks["refused_by_kind"]) == (0, {"mismatch": 2})
    assert webhooks["last_refused_kind"] == "mismatch"
    # and nothing of the refused webhooks was kept or delivered
    assert alarmed.effects_of(started["id"]) == alarmed.effects_of(ended["id"]) == {}

    # When the operator puts ROUND0's new secret in, the old one as previous
    alarmed.client("secretsmanager").put_secret_value(
        SecretId=secret_arn,
        SecretString=json.dumps({"current": ROTATED, "previous": LOCAL_SIGNING_SECRET}),
    )
    # Then ROUND0's retry is accepted (ingest re-reads a secret at most once a minute)
    accepted: list[int] = []

    def retried() -> bool:
        accepted.append(send(alarmed.webhook_url, compact(started), ROTATED).status)
        return accepted[-1] == 200

    wait_for(retried, "the retried webhook to be accepted")
    # and the alarm clears, saying so to the topic, and status needs no one for it
    wait_for(
        lambda: (
            [r["state"] for r in notifications(alarmed, "SignatureRejectionsAlarm")]
            == ["ALARM", "OK"]
        ),
        "SignatureRejectionsAlarm back to OK",
    )
    document = alarmed.ops("--json", "status").json()
    assert document["webhooks"]["accepted"] >= 1
    assert document["webhooks"]["likely_cause"] is None
    assert not [item for item in document["attention"] if "signature" in item]
