"""Recovery that cannot double, erasure that cannot be undone by a run in flight,
end to end through `round0-local serve`.

- A republish after the idempotency marks are 8 days old (older than the 7 days they
  used to live; redrive, republish and replay are offered for 14) repeats no side
  effect. Time is simulated where the claim reads it: each mark's `expiration` is moved
  back by 8 days, which is what the claim's condition (`expiration < now`) sees 8 days
  later.
- An erasure that lands while the archive waits on a slow audio host: the recordings it
  writes afterwards are deleted by the archive itself, and nothing of the interview is
  left in the archive bucket.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from round0.keys import key_segment
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 120.0
SETTLE_SECONDS = 3.0
DAY = 86_400


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def post(served: Served, document: dict[str, Any]) -> None:
    sent = send(served.webhook_url, compact(document), LOCAL_SIGNING_SECRET)
    assert sent.status == 200, sent.body


def settled(served: Served, event_id: str, **expected: int) -> Counter[str]:
    wait_for(
        lambda: all(served.effects_of(event_id)[c] >= n for c, n in expected.items()),
        f"{expected} for {event_id}",
    )
    time.sleep(SETTLE_SECONDS)
    return served.effects_of(event_id)


def candidate(tag: str) -> dict[str, Any]:
    document = renamed(seed("interview_ended.json"), tag)
    document["data"]["candidate"].update(
        id=f"cand-{tag}", name=f"Rita Racer {tag}", email=f"rita.{tag}@example.com"
    )
    return document


def marks_of(served: Served, event_id: str) -> list[dict[str, Any]]:
    """The idempotency marks of one event (every channel's)."""
    table = served.outputs()["IdempotencyTableName"]
    items: list[dict[str, Any]] = served.client("dynamodb").scan(TableName=table)["Items"]
    suffix = f"#{key_segment(event_id)}"
    return [item for item in items if item["id"]["S"].endswith(suffix)]


def test_a_republish_after_the_marks_are_eight_days_old_repeats_nothing(served: Served) -> None:
    tag = uuid.uuid4().hex[:10]
    document = candidate(tag)
    event_id = document["id"]
    # Given an interview_ended handled by every consumer
    post(served, document)
    done = settled(served, event_id, slack=1, ats=1, s3=4)
    marks = marks_of(served, event_id)
    assert {m["status"]["S"] for m in marks} == {"COMPLETED"}
    assert {m["id"]["S"].split("#")[0] for m in marks} >= {"slack", "archive"}
    # and each mark lives beyond every window the event can come back in (14 days each)
    now = time.time()
    assert min(int(m["expiration"]["N"]) for m in marks) - now > 14 * DAY
    # When 8 days pass (the marks' expirations, as the claim compares them with now)
    dynamodb = served.client("dynamodb")
    table = served.outputs()["IdempotencyTableName"]
    for mark in marks:
        dynamodb.update_item(
            TableName=table,
            Key={"id": mark["id"]},
            UpdateExpression="SET expiration = :older",
            ExpressionAttributeValues={
                ":older": {"N": str(int(mark["expiration"]["N"]) - 8 * DAY)}
            },
        )
    # and the operator republishes the event, as the documentation offers for 14 days
    before = {
        f: handled(served, event_id, f)
        for f in ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction")
    }
    republished = served.ops("republish", event_id)
    assert republished.status == 0, republished.out + republished.err
    assert "republished" in republished.out
    # Then every consumer handled it again (serve reports each delivery it handled)
    consumers = ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction")
    wait_for(
        lambda: all(handled(served, event_id, f) == before[f] + 1 for f in consumers),
        "the republished event handled by every consumer",
    )
    time.sleep(SETTLE_SECONDS)
    # and Slack, the ATS and the archive got it once: each skipped what it had done
    assert served.effects_of(event_id) == done
    assert (done["slack"], done["ats"]) == (1, 1)
    assert any(
        "notification already sent for this event" in line and event_id in line
        for line in served.function_log("NotifyFunction").splitlines()
    )


def handled(served: Served, event_id: str, function: str) -> int:
    """How many deliveries of the event `function` handled, as serve reports them."""
    assert len(event_id) <= 48  # serve prints longer ids cut short
    line = f"✓ handled    {event_id} by {function}"
    return sum(1 for printed in list(served.output) if printed.strip() == line)


def archived(served: Served, interview_id: str) -> list[str]:
    bucket = served.outputs()["ArchiveBucketName"]
    listed = served.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=f"interviews/{key_segment(interview_id)}/"
    )
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_an_erasure_during_an_archive_run_leaves_nothing_behind(served: Served) -> None:
    tag = uuid.uuid4().hex[:10]
    document = candidate(tag)
    interview_id = document["data"]["interview"]["id"]
    # Given the audio host holds the archive's first download for 20 s
    served.control("round0-api", {"hang": True, "hang_seconds": 20, "path": "/audio/", "times": 1})
    post(served, document)
    # and the archive has written the transcripts and waits on the audio
    wait_for(
        lambda: any(key.endswith("transcript.json") for key in archived(served, interview_id)),
        "the transcripts",
    )
    assert not any(key.endswith(".mp3") for key in archived(served, interview_id))
    # When the candidate is erased meanwhile
    email = document["data"]["candidate"]["email"]
    erased = served.ops("erase", "--email", email, "--yes")
    assert erased.status == 0, erased.out + erased.err
    assert archived(served, interview_id) == []
    # Then the archive, once the host answers, writes nothing that stays, and says so
    wait_for(
        lambda: any(
            "the interview was erased" in line and document["id"] in line
            for line in served.function_log("ArchiveFunction").splitlines()
        ),
        "the archive to stop on the erasure",
    )
    time.sleep(SETTLE_SECONDS)
    assert archived(served, interview_id) == []
    # and a second erasure by interview id finds nothing left
    again = served.ops("erase", "--interview-id", interview_id, "--yes")
    assert (again.status, "nothing on record" in again.out) == (0, True), again.out
