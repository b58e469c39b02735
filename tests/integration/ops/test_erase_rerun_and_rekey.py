"""round0-ops erase marks interviews erased first, is re-runnable by interview id, reports
objects S3 would not delete; the candidate index key rotates and the index is re-keyed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.candidates import email_key
from round0.erasures import ErasedInterviews
from round0.secrets import index_keys
from round0_ops.stack import Stack
from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack

from .test_erase import (
    CANDIDATE,
    INTERVIEW,
    Receive,
    archive_as_the_archive_would,
    everything_stored,
    given_two_candidates,
)

Ops = Callable[..., Ran]


def archived_keys(stack: TemplateStack) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(
        Bucket=stack.physical_name("ArchiveBucket"), Prefix=f"interviews/{INTERVIEW}/"
    )
    return sorted(item["Key"] for item in listed.get("Contents", []))


def index_secret(stack: TemplateStack) -> dict[str, Any]:
    value = boto3.client("secretsmanager").get_secret_value(
        SecretId=stack.arns["CandidateIndexKey"]
    )["SecretString"]
    document: dict[str, Any] = json.loads(value)
    return document


def test_the_interview_is_marked_erased_before_anything_is_deleted(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    marks = ErasedInterviews(stack.physical_name("EventsTable"), boto3.client("dynamodb"))
    assert not marks.is_erased(INTERVIEW)
    ran = ops("--json", "erase", "--email", CANDIDATE["email"], "--yes")
    assert ran.status == 0
    assert ran.json()["deleted"]["events table: interviews marked erased (first)"] == 1
    # the mark is what an archive in flight reads: it stays, and holds no personal data
    assert marks.is_erased(INTERVIEW)
    assert not marks.is_erased("other-interview")


def test_a_second_erase_by_interview_id_finds_what_the_archive_wrote_afterwards(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given a candidate erased, whose archive a run in flight wrote again afterwards
    given_two_candidates(stack, received)
    assert ops("erase", "--email", CANDIDATE["email"], "--yes").status == 0
    assert archived_keys(stack) == []
    archive_as_the_archive_would(stack)
    assert archived_keys(stack) != []
    # When the operator erases the interview by its id (the email finds nothing now)
    assert "nothing on record" in ops("erase", "--email", CANDIDATE["email"], "--yes").out
    ran = ops("--json", "erase", "--interview-id", INTERVIEW, "--yes")
    # Then the archive's objects are found by their prefix and deleted
    assert ran.status == 0
    assert ran.json()["deleted"]["archive bucket: audio, transcripts, results"] == 2
    assert archived_keys(stack) == []
    # and with nothing left, a third run finds nothing
    assert "nothing on record" in ops("erase", "--interview-id", INTERVIEW, "--yes").out


class RefusingS3:
    """S3, except that DeleteObjects refuses one key (as a bucket policy or object lock
    would), reporting it in `Errors` as S3 does."""

    def __init__(self, real: Any, refused: str) -> None:
        self._real = real
        self._refused = refused

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        kept = [o for o in Delete["Objects"] if o["Key"].endswith(self._refused)]
        rest = [o for o in Delete["Objects"] if o not in kept]
        answer: dict[str, Any] = (
            self._real.delete_objects(Bucket=Bucket, Delete={**Delete, "Objects": rest})
            if rest
            else {}
        )
        errors = [
            {"Key": o["Key"], "Code": "AccessDenied", "Message": "Access Denied"} for o in kept
        ]
        return {**answer, "Errors": errors}


def test_an_object_s3_would_not_delete_is_reported_with_a_non_zero_exit(
    ops: Ops, stack: TemplateStack, received: Receive, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_two_candidates(stack, received)
    real_client = Stack.client

    def client(self: Stack, service: str) -> Any:
        real = real_client(self, service)
        return RefusingS3(real, "question_1.mp3") if service == "s3" else real

    monkeypatch.setattr(Stack, "client", client)
    ran = ops("erase", "--email", CANDIDATE["email"], "--yes")
    assert ran.status == 1
    assert "NOT deleted (1)" in ran.out
    assert f"interviews/{INTERVIEW}/question_1.mp3: AccessDenied" in ran.out
    document = ops("--json", "erase", "--interview-id", INTERVIEW, "--yes").json()
    assert document["failures"] == [
        f"s3://{stack.physical_name('ArchiveBucket')}/interviews/{INTERVIEW}/question_1.mp3:"
        " AccessDenied Access Denied"
    ]


def test_a_rotated_index_key_is_searched_beside_the_old_until_the_rekey_finishes(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given candidates filed under the stack's index key
    given_two_candidates(stack, received)
    old = index_secret(stack)["key"].encode()
    table = stack.physical_name("EventsTable")
    dynamodb = boto3.client("dynamodb")

    def entry(key: bytes) -> dict[str, Any] | None:
        item: dict[str, Any] | None = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": email_key(CANDIDATE["email"], key)}}
        ).get("Item")
        return item

    assert entry(old) is not None
    # When the key is rotated
    rotated = ops("index-key", "rotate")
    assert rotated.status == 0
    secret = index_secret(stack)
    new = secret["key"].encode()
    assert (secret["previous"].encode(), index_keys(json.dumps(secret))) == (old, (new, old))
    assert "index-key rekey after" in rotated.out
    # Then an erasure still finds the candidate (under the previous key)
    found = ops("--json", "erase", "--email", CANDIDATE["email"], "--dry-run").json()
    assert found["found"] is True
    assert found["would_delete"]["events table: candidate index entries"] == 2
    # and a second rotation is refused until the re-key is done
    assert ops("index-key", "rotate").status == 2

    # When the index is re-keyed within the hour ingest may still use the old key
    rekeyed = ops("--json", "index-key", "rekey").json()
    # Then every entry is re-filed under the new key, the old ones gone, the previous
    # key kept for now
    assert rekeyed["refiled"] == 4  # email and id, of two candidates
    assert (rekeyed["stranded"], rekeyed["finished"]) == (0, False)
    assert entry(new) is not None
    assert entry(old) is None
    assert index_secret(stack)["previous"]

    # When it runs again once the rotation is an hour old
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.arns["CandidateIndexKey"],
        SecretString=json.dumps({**index_secret(stack), "rotated_at": 1}),
    )
    again = ops("--json", "index-key", "rekey").json()
    # Then it finds every entry current, and drops the previous key
    assert (again["already_current"], again["refiled"], again["finished"]) == (4, 0, True)
    assert "previous" not in index_secret(stack)
    # and an erasure finds the candidate under the new key alone, and erases them
    erased = ops("--json", "erase", "--email", CANDIDATE["email"], "--yes").json()
    assert erased["deleted"]["events table: candidate index entries"] == 2
    assert CANDIDATE["name"] not in everything_stored(stack)
