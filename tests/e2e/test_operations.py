"""Operating the stack, end to end: `round0-ops` against `round0-local serve`.

The same commands an operator runs against a deployed stack (the stack is found through
CloudFormation at the AWS endpoint `serve` prints): a notification Slack refuses for good
is dead-lettered, seen, redriven once after the fix, and all is clear again; a
candidate's data is erased from every table, bucket and queue, and a redelivery of their
event brings nothing back. This module runs its own `serve`, so `status` sees only what
these tests do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Ran, Served, start_serve

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 90.0
SETTLE_SECONDS = 3.0


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    try:
        running = start_serve(tmp_path_factory.mktemp("operated"), "--retry-delay", "0.2")
    except RuntimeError as failed:
        pytest.fail(str(failed))
    yield running
    assert running.stop() == 0


def ops(served: Served, *arguments: str) -> Ran:
    """`round0-ops --stack round0-local ...` as an operator runs it: its own process, the
    endpoint and credentials `serve` printed, no terminal (so erase needs --yes)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ENDPOINT_URL=served.aws_endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "round0_ops.cli", "--stack", "round0-local", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def candidate(tag: str) -> dict[str, Any]:
    """The seed's interview_ended for a candidate of this test's own."""
    document = renamed(seed("interview_ended.json"), tag)
    document["data"]["candidate"].update(
        id=f"cand-{tag}", name=f"Zelda Erasmus {tag}", email=f"zelda.{tag}@example.com"
    )
    for number, response in enumerate(document["data"]["responses"], start=1):
        response["transcript"] = f"Transcript {tag} of answer {number}, spoken aloud."
    return document


def personal(document: dict[str, Any]) -> list[str]:
    data = document["data"]
    return [
        data["candidate"]["name"],
        data["candidate"]["email"],
        *(response["transcript"] for response in data["responses"]),
    ]


def post(served: Served, document: dict[str, Any]) -> dict[str, Any]:
    sent = send(served.webhook_url, compact(document), LOCAL_SIGNING_SECRET)
    assert sent.status == 200, sent.body
    answer: dict[str, Any] = json.loads(sent.body)
    return answer


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def settled(served: Served, event_id: str, **expected: int) -> Counter[str]:
    wait_for(
        lambda: all(served.effects_of(event_id)[c] >= n for c, n in expected.items()),
        f"{expected} for {event_id}",
    )
    time.sleep(SETTLE_SECONDS)
    return served.effects_of(event_id)


def everything_stored(served: Served) -> str:
    """Every item of every table, every object of every bucket, every message of every
    queue at the stack's endpoint."""
    dump: list[Any] = []
    dynamodb, s3, sqs = served.client("dynamodb"), served.client("s3"), served.client("sqs")
    for table in dynamodb.list_tables()["TableNames"]:
        dump += dynamodb.scan(TableName=table)["Items"]
    for bucket in s3.list_buckets()["Buckets"]:
        for item in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
            dump.append(body.decode("utf-8", "replace"))
    for url in sqs.list_queues().get("QueueUrls", []):
        for _ in range(20):  # bounded: peeks without hiding anything
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            dump += [message["Body"] for message in batch]
            if len(batch) < 10:
                break
    return json.dumps(dump, ensure_ascii=False)


def test_a_refused_notification_is_seen_redriven_once_and_all_is_clear_again(
    operated: Served,
) -> None:
    tag = uuid.uuid4().hex[:10]
    document = candidate(tag)
    event_id = document["id"]
    # Given Slack refuses the hiring channel's webhook for good
    operated.control("slack", {"status": 404, "body": "no_service", "times": 50})
    post(operated, document)
    # Then the notification is dead-lettered, and the archive and the ATS went on
    wait_for(lambda: operated.effects_of(event_id)["dead_letter"] == 1, "the dead letter")
    before = settled(operated, event_id, s3=4, ats=1)
    assert before["slack"] == 0
    # and `dead-letters` lists it, with the reason and no personal data
    listed = ops(operated, "dead-letters")
    assert listed.status == 0
    assert event_id in listed.out
    assert "slack_rejected:404 no_service" in listed.out
    assert [value for value in personal(document) if value in listed.out] == []
    [row] = [r for r in ops(operated, "--json", "dead-letters").json() if r["event_id"] == event_id]
    assert (row["consumer"], row["type"]) == ("notify", "interview_ended")
    # and `status` says someone is needed
    status = ops(operated, "status")
    assert status.status == 1, status.out
    assert "round0-ops redrive --consumer notify" in status.out
    # When the webhook is fixed and the operator redrives
    operated.control("slack", {"clear": True})
    redriven = ops(operated, "--json", "redrive", "--consumer", "notify")
    assert redriven.status == 0, redriven.out + redriven.err
    assert redriven.json() == [{"event_id": event_id, "consumer": "notify", "outcome": "redriven"}]
    # Then exactly one Slack message goes out, and no other consumer repeats its work
    after = settled(operated, event_id, slack=1)
    assert after == before + Counter(slack=1)
    # and a second redrive finds nothing to do
    assert ops(operated, "redrive").out.strip() == "nothing to redrive"
    # and all is clear
    wait_for(lambda: ops(operated, "status").status == 0, "status to clear")
    assert ops(operated, "status").out.rstrip().endswith("all clear")
    # And republishing the handled event causes no new side effect
    republished = ops(operated, "republish", event_id)
    assert (republished.status, "republished" in republished.out) == (0, True)
    time.sleep(SETTLE_SECONDS * 2)
    assert operated.effects_of(event_id) == after


def test_erase_leaves_no_copy_in_any_table_bucket_or_queue(operated: Served) -> None:
    tag = uuid.uuid4().hex[:10]
    ended = candidate(tag)
    started = renamed(seed("interview_started.json"), tag)
    started["data"]["candidate"] = ended["data"]["candidate"]
    # Given the candidate's screening went through every consumer
    post(operated, started)
    # (the start handled before the end arrives: a start notify meets after the
    # interview completed is a late start, and is rightly not announced)
    settled(operated, started["id"], email=1, ats=1)
    post(operated, ended)
    done = settled(operated, ended["id"], slack=1, ats=1, s3=4)
    # Then no table holds their name, email or transcripts (only ids and keyed hashes)
    tables = json.dumps(
        [
            operated.client("dynamodb").scan(TableName=table)["Items"]
            for table in operated.client("dynamodb").list_tables()["TableNames"]
        ],
        ensure_ascii=False,
    )
    assert [value for value in personal(ended) if value in tables] == []
    # When the candidate asks to be forgotten
    email = ended["data"]["candidate"]["email"]
    dry = ops(operated, "--json", "erase", "--email", email, "--dry-run")
    assert dry.status == 0
    assert dry.json()["would_delete"]["archive bucket: audio, transcripts, results"] == 4
    erased = ops(operated, "erase", "--email", email, "--yes")
    assert erased.status == 0, erased.out + erased.err
    assert "outside this stack, delete by hand" in erased.out
    # Then no table, bucket or queue of the stack holds any of it
    assert [value for value in personal(ended) if value in everything_stored(operated)] == []
    # When ROUND0 redelivers the same event afterwards
    answer = post(operated, ended)
    # Then it is a duplicate and changes nothing
    assert answer["status"] == "duplicate"
    time.sleep(SETTLE_SECONDS * 2)
    assert operated.effects_of(ended["id"]) == done
    assert [value for value in personal(ended) if value in everything_stored(operated)] == []
    # and erasing again finds nothing
    assert "nothing to erase" in ops(operated, "erase", "--email", email, "--yes").out
