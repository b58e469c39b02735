"""Operating the stack, end to end: `round0-ops` against `round0-local serve`.

The same commands an operator runs against a deployed stack (the stack is found through
CloudFormation at the AWS endpoint `serve` prints): a notification Slack refuses for good
is dead-lettered, seen, redriven once after the fix, and all is clear again; a
candidate's data is erased from every table, bucket and queue, and a redelivery of their
event brings nothing back; a replay of the bus archive reaches only the consumers asked
for, with only the events of its window, as EventBridge's does. This module runs its own
`serve`, so `status` sees only what these tests do.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from round0.contract import payload_prefix
from round0.keys import key_segment
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.iam.calls import read_call_log
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served

from .conftest import serving

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 90.0
SETTLE_SECONDS = 3.0


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serving(tmp_path_factory.mktemp("operated"), "--retry-delay", "0.2")


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


def receive_count(served: Served, queue_output: str, event_id: str) -> int:
    """How often the dead letter of `event_id` was received, read by receiving it once
    more (this read counts too) and showing it again at once."""
    sqs = served.client("sqs")
    url = stack_output(served, queue_output)
    for _ in range(10):  # bounded: long polls until the letter shows
        for message in sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=0,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", []):
            if event_id in message["Body"]:
                return int(message["Attributes"]["ApproximateReceiveCount"])
    pytest.fail(f"no dead letter of {event_id} in {queue_output}")


def stack_output(served: Served, key: str) -> str:
    described = served.client("cloudformation").describe_stacks(StackName="round0-local")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}
    return str(outputs[key])


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
    listed = operated.ops("dead-letters")
    assert listed.status == 0
    assert event_id in listed.out
    assert "slack_rejected:404 no_service" in listed.out
    assert [value for value in personal(document) if value in listed.out] == []
    [row] = [r for r in operated.ops("--json", "dead-letters").json() if r["event_id"] == event_id]
    assert (row["consumer"], row["type"]) == ("notify", "interview_ended")
    # and `status` says someone is needed
    status = operated.ops("status")
    assert status.status == 1, status.out
    assert "round0-ops redrive --consumer notify" in status.out
    # and `event` tells its story: stored, published, notify dead-lettered with its reason
    story = operated.ops("--json", "event", event_id)
    assert story.status == 0, story.err
    told = story.json()
    assert (told["status"], told["payload"], told["deliveries"]) == ("published", "kept", 1)
    assert told["consumers"]["notify"]["state"] == "dead-lettered"
    assert told["consumers"]["notify"]["reason"] == "slack_rejected:404 no_service"
    assert told["consumers"]["archive"]["state"] == "done"
    # and `status`, run again and again (as from cron), never receives the letter
    receives = receive_count(operated, "NotifyDeadLetterQueueUrl", event_id)
    for _ in range(4):
        assert operated.ops("status").status == 1
    assert "(slack_rejected x1)" in operated.ops("status").out
    assert receive_count(operated, "NotifyDeadLetterQueueUrl", event_id) == receives + 1
    # When the webhook is fixed and the operator redrives
    operated.control("slack", {"clear": True})
    redriven = operated.ops("redrive", "--consumer", "notify", "--json")
    assert redriven.status == 0, redriven.out + redriven.err
    assert redriven.json() == [
        {"event_id": event_id, "consumer": "notify", "outcome": "redriven", "after": "done"}
    ]
    # Then exactly one Slack message goes out, and no other consumer repeats its work
    after = settled(operated, event_id, slack=1)
    assert after == before + Counter(slack=1)
    # and the event's story keeps the dead letter beside the success that followed it
    shown = operated.ops("event", event_id)
    notify = operated.ops("--json", "event", event_id).json()["consumers"]["notify"]
    assert notify["state"] == "done"
    assert [a["outcome"] for a in notify["attempts"]] == ["dead_lettered", "done"]
    print(f"\n$ round0-ops event {event_id}\n{shown.out}")  # the closing note's sample
    # and a second redrive finds nothing to do
    assert operated.ops("redrive").out.strip() == "nothing to redrive"
    # and all is clear
    wait_for(lambda: operated.ops("status").status == 0, "status to clear")
    assert operated.ops("status").out.rstrip().endswith("all clear")
    # And republishing the handled event causes no new side effect
    republished = operated.ops("republish", event_id)
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
    dry = operated.ops("--json", "erase", "--email", email, "--dry-run")
    assert dry.status == 0
    assert dry.json()["would_delete"]["archive bucket: audio, transcripts, results"] == 4
    erased = operated.ops("erase", "--email", email, "--yes")
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
    assert "nothing to erase" in operated.ops("erase", "--email", email, "--yes").out


def payload_reads(served: Served, event_id: str) -> Counter[str]:
    """How many times each function read the event's payload (the IAM call log)."""
    return Counter(
        record.function
        for record in read_call_log(served.calls_log).calls
        if record.call == "s3.GetObject"
        and any(
            f"/{payload_prefix(key_segment(event_id))}" in access.resource
            for access in record.needs
        )
    )


def whole_second(moment: float, *, up: bool = False) -> str:
    second = math.ceil(moment) if up else math.floor(moment)
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_replay_reaches_only_the_chosen_consumers_with_only_its_window(
    operated: Served,
) -> None:
    # Given a screening's end inside the window, and another's just after it
    inside, after = candidate(uuid.uuid4().hex[:10]), candidate(uuid.uuid4().hex[:10])
    start = time.time()
    post(operated, inside)
    end = time.time()
    settled(operated, inside["id"], slack=1, ats=1, s3=4)
    time.sleep(max(0.0, math.ceil(end) + 1.0 - time.time()))  # past the window's end
    post(operated, after)
    settled(operated, after["id"], slack=1, ats=1, s3=4)
    read_before = {e["id"]: payload_reads(operated, e["id"]) for e in (inside, after)}
    effects_before = {e["id"]: operated.effects_of(e["id"]) for e in (inside, after)}
    # When the operator replays the window to the ATS sync only
    replayed = operated.ops(
        "replay",
        "--from", whole_second(start), "--to", whole_second(end, up=True),
        "--consumer", "ats",
    )  # fmt: skip
    # Then the replay completes, and the ATS sync alone is handed the event of the window
    assert replayed.status == 0, replayed.out + replayed.err
    assert "COMPLETED" in replayed.out
    wait_for(
        lambda: (
            payload_reads(operated, inside["id"])["AtsSyncFunction"]
            > read_before[inside["id"]]["AtsSyncFunction"]
        ),
        "the replayed event at the ATS sync",
    )
    time.sleep(SETTLE_SECONDS)
    assert payload_reads(operated, inside["id"]) == read_before[inside["id"]] + Counter(
        AtsSyncFunction=1
    )
    # and not the event after the window; and it redoes nothing it already did
    assert payload_reads(operated, after["id"]) == read_before[after["id"]]
    assert {e: operated.effects_of(e) for e in effects_before} == effects_before
