"""Permissions proven before deploy: a function whose policy lacks an action fails locally,
as it would after `sam deploy` (moto's IAM access control is on in `serve`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served, start_serve
from round0_testkit.template import load_template

pytestmark = pytest.mark.e2e
EFFECT_TIMEOUT = 90.0
MISSING = "SendFromTheConfiguredIdentity"  # NotifyFunction's ses:SendEmail statement


def without_statement(function: str, sid: str) -> dict[str, object]:
    template = load_template()
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        before = len(policy["Statement"])
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
        if len(policy["Statement"]) < before:
            return template
    raise LookupError(f"{function} has no statement {sid}")


@pytest.fixture(scope="module")
def no_ses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("no-ses")
    template = workdir / "template.json"
    template.write_text(json.dumps(without_statement("NotifyFunction", MISSING)))
    served = start_serve(workdir, "--retry-delay", "0.2", "--template", str(template))
    yield served
    assert served.stop() == 0


def test_a_function_whose_policy_lacks_an_action_fails_locally(no_ses: Served) -> None:
    payload = renamed(seed("interview_started.json"), uuid.uuid4().hex[:10])
    sent = send(no_ses.webhook_url, compact(payload), LOCAL_SIGNING_SECRET)
    assert sent.status == 200
    deadline = time.monotonic() + EFFECT_TIMEOUT
    channels: set[str] = set()
    while time.monotonic() < deadline and not {"dead_letter", "ats"} <= channels:
        time.sleep(0.2)
        channels = {r["channel"] for r in no_ses.outbox_records() if r["event_id"] == payload["id"]}
    records = [r for r in no_ses.outbox_records() if r["event_id"] == payload["id"]]
    # the email is refused by IAM (SES answers AccessDenied) and dead-lettered with the reason
    [dead] = [r for r in records if r["channel"] == "dead_letter"]
    assert (dead["function"], dead["reason"]) == ("NotifyFunction", "ses_rejected:AccessDenied")
    assert "email" not in {r["channel"] for r in records}
    # the other consumer, whose policy is whole, did its part
    assert [r["channel"] for r in records if r["function"] == "AtsSyncFunction"] == ["ats"]
    assert "not authorized to perform: ses:SendEmail" in no_ses.function_log("NotifyFunction") or (
        "AccessDenied" in no_ses.function_log("NotifyFunction")
    )


def test_the_template_policy_is_what_the_role_holds(no_ses: Served, tmp_path: Path) -> None:
    iam = no_ses.client("iam")
    document = iam.get_role_policy(
        RoleName="round0-local-NotifyFunction", PolicyName="template-policies"
    )["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    sids = [statement.get("Sid") for statement in document["Statement"]]
    assert MISSING not in sids
    assert "NotifyOncePerEvent" in sids
    assert {statement["Resource"] for statement in document["Statement"]} == {"*"}
