"""round0-ops erase: every copy of one candidate's data goes; a redelivery brings none back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from round0.consumer import DeadLetterQueue
from round0.contract import legacy_payload_key, payload_prefix
from round0.event_store import event_key, segment_of
from round0.keys import key_segment
from round0_archive.bucket import ArchiveBucket
from round0_testkit.events import load_api_event, payload_bytes, signed_request
from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack, load_template

from .conftest import LOCAL_API

Ops = Callable[..., Ran]
Receive = Callable[[dict[str, Any]], dict[str, Any]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"
ENDED = json.loads(payload_bytes("interview_ended.json"))
INTERVIEW = ENDED["data"]["interview"]["id"]
CANDIDATE = ENDED["data"]["candidate"]
OTHER_ID = "evt_other_1"


def other_candidate() -> dict[str, Any]:
    document = json.loads(payload_bytes("interview_started.json"))
    document["id"] = OTHER_ID
    document["data"]["interview"]["id"] = "other-interview"
    document["data"]["candidate"].update(id="other-cand", name="Ola Nordmann", email="ola@x.no")
    return dict(document)


def personal_data(document: dict[str, Any]) -> list[str]:
    data = document["data"]
    values = [data["candidate"]["name"], data["candidate"]["email"], data["candidate"]["id"]]
    values += [r["transcript"][:30] for r in data.get("responses", []) if r.get("transcript")]
    return values


def everything_stored(stack: TemplateStack) -> str:
    """Every item, object and message of every table, bucket and queue of the stack."""
    dump: list[Any] = []
    dynamodb, s3, sqs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs")
    for table in stack.of_type("AWS::DynamoDB::Table"):
        dump += dynamodb.scan(TableName=stack.physical_name(table))["Items"]
    for bucket in stack.of_type("AWS::S3::Bucket"):
        name = stack.physical_name(bucket)
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            dump.append(s3.get_object(Bucket=name, Key=item["Key"])["Body"].read().decode())
    for queue in stack.of_type("AWS::SQS::Queue"):
        url = stack.physical[f"{queue}.QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        dump += [message["Body"] for message in messages.get("Messages", [])]
    return json.dumps(dump, ensure_ascii=False)


def no_body_kept(stack: TemplateStack, event_id: str) -> bool:
    """Whether the payload bucket holds no body of `event_id` (none under its key segment,
    none where bodies were kept before they were keyed by their hash)."""
    bucket = stack.physical_name("PayloadBucket")
    s3 = boto3.client("s3")
    keys = [
        item["Key"]
        for prefix in (payload_prefix(segment_of(event_id)), legacy_payload_key(event_id))
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    ]
    return keys == []


def archive_as_the_archive_would(stack: TemplateStack) -> None:
    """Objects as the archive writes them: its adapter, in the template's storage class,
    each with its hash in its metadata."""
    archive = ArchiveBucket(
        stack.physical_name("ArchiveBucket"),
        storage_class=stack.function_environment("ArchiveFunction")["ARCHIVE_STORAGE_CLASS"],  # type: ignore[arg-type]
    )
    archive.put_document(
        f"interviews/{INTERVIEW}/transcript.json",
        json.dumps(ENDED["data"]).encode(),
        "application/json",
    )
    archive.upload(f"interviews/{INTERVIEW}/question_1.mp3", [b"voice"], "audio/mpeg", {})
    archive.put_document("interviews/other-interview/transcript.md", b"Ola's", "text/markdown")


def dead_letter_the_ended_event(stack: TemplateStack) -> None:
    bus_event = {
        "detail-type": "interview_ended",
        "detail": {"id": ENDED_ID, "type": "interview_ended"},
    }
    url = stack.physical["ArchiveDeadLetterQueue.QueueUrl"]
    DeadLetterQueue(url, boto3.client("sqs")).send(bus_event, "api_http_503", "arn:archive")


def given_two_candidates(stack: TemplateStack, received: Receive) -> None:
    for sample in ("interview_started.json", "interview_ended.json"):
        assert received(load_api_event(sample))["statusCode"] == 200
    assert received(signed_request(json.dumps(other_candidate()).encode()))["statusCode"] == 200
    archive_as_the_archive_would(stack)
    dead_letter_the_ended_event(stack)


def test_a_dry_run_says_what_would_go_and_deletes_nothing(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    before = everything_stored(stack)
    ran = ops("--json", "erase", "--email", CANDIDATE["email"], "--dry-run")
    assert ran.status == 0
    document = ran.json()
    assert document["would_delete"] == {
        "events table: interviews marked erased (first)": 1,
        "payload bucket: event bodies": 2,
        "archive bucket: audio, transcripts, results": 2,
        "dead-letter queues: messages": 1,
        "events table: records made tombstones": 2,
        "events table: interview states": 1,
        "events table: candidate index entries": 2,
    }
    assert CANDIDATE["email"] not in ran.out
    assert everything_stored(stack) == before


def test_off_a_terminal_it_refuses_without_yes(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    ran = ops("erase", "--email", CANDIDATE["email"])
    assert ran.status == 2
    assert "refusing to erase without --yes" in ran.err
    assert CANDIDATE["name"] in everything_stored(stack)


def test_erase_by_email_deletes_every_copy_and_a_redelivery_brings_nothing_back(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    assert CANDIDATE["email"] in everything_stored(stack)
    assert not no_body_kept(stack, ENDED_ID)
    # When the candidate asks to be forgotten (their email as they typed it)
    ran = ops("erase", "--email", CANDIDATE["email"].upper(), "--yes")
    assert ran.status == 0
    assert "payload bucket: event bodies" in ran.out
    assert "outside this stack, delete by hand" in ran.out
    assert CANDIDATE["email"].lower() not in ran.out.lower()
    # Then no table, bucket or queue holds their name, email, id or transcripts
    stored = everything_stored(stack)
    assert [value for value in personal_data(ENDED) if value in stored] == []
    # and the other candidate's data is untouched
    assert "Ola Nordmann" in stored
    # and the event ids stay as tombstones, whose body is no longer kept anywhere: the
    # tombstone keeps where it was (so a redelivery cannot set it again), not what it held
    table = stack.physical_name("EventsTable")
    tombstones = {}
    for event_id in (STARTED_ID, ENDED_ID):
        record = boto3.client("dynamodb").get_item(
            TableName=table, Key=event_key(segment_of(event_id)), ConsistentRead=True
        )["Item"]
        assert record["status"]["S"] == "published"
        assert "erased_at" in record
        assert no_body_kept(stack, event_id)
        tombstones[event_id] = record
    # When ROUND0 redelivers the same event afterwards
    answer = received(load_api_event("interview_ended.json"))
    # Then it is acknowledged as a duplicate and nothing comes back
    assert json.loads(answer["body"])["status"] == "duplicate"
    assert [value for value in personal_data(ENDED) if value in everything_stored(stack)] == []
    assert no_body_kept(stack, ENDED_ID)
    record = boto3.client("dynamodb").get_item(
        TableName=table, Key=event_key(segment_of(ENDED_ID)), ConsistentRead=True
    )["Item"]
    assert record["payload_ref"] == tombstones[ENDED_ID]["payload_ref"]
    assert "erased_at" in record
    # And a second erasure finds nothing
    again = ops("erase", "--email", CANDIDATE["email"], "--yes")
    assert (again.status, again.out.strip()) == (
        0,
        "nothing on record for the candidate with that email: nothing to erase",
    )


def test_a_second_body_under_a_known_id_is_found_by_its_own_email_and_erased_with_the_first(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given the ended event, then another body under its id naming another email
    given_two_candidates(stack, received)
    second = json.loads(payload_bytes("interview_ended.json"))
    second["data"]["candidate"].update(id="cand-second", name="Kari Second", email="kari@x.no")
    answer = received(signed_request(json.dumps(second).encode()))
    assert (answer["statusCode"], json.loads(answer["body"])["status"]) == (200, "duplicate")
    assert "Kari Second" in everything_stored(stack)
    # When the candidate of the second body asks to be forgotten
    ran = ops("--json", "erase", "--email", "kari@x.no", "--yes")
    # Then the event is found through that body's email, with the interview it names (so
    # the started event too), and every body of them goes: both bodies of the ended event
    assert ran.status == 0
    assert ran.json()["event_ids"] == [STARTED_ID, ENDED_ID]
    assert ran.json()["deleted"]["payload bucket: event bodies"] == 3
    assert no_body_kept(stack, ENDED_ID)
    assert no_body_kept(stack, STARTED_ID)
    stored = everything_stored(stack)
    assert "Kari Second" not in stored
    assert CANDIDATE["email"] not in stored
    assert "Ola Nordmann" in stored


def test_an_event_whose_id_reads_as_a_content_hash_is_erased_where_it_is_kept(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    # Given an event ROUND0 sent with an id that reads as a body kept by its hash
    event_id = "sha256:" + "0" * 64
    document = other_candidate()
    document["id"] = event_id
    document["data"]["candidate"].update(id="cand-hashy", name="Hashy Id", email="hashy@x.no")
    answer = received(signed_request(json.dumps(document).encode()))
    assert json.loads(answer["body"]) == {"status": "published", "event_id": event_id}
    bucket = stack.physical_name("PayloadBucket")
    kept = boto3.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=payload_prefix(key_segment(event_id))
    )
    assert kept.get("KeyCount") == 1
    # When its candidate is erased
    ran = ops("--json", "erase", "--email", "hashy@x.no", "--yes")
    # Then its body goes from where it is kept, and its own record becomes the tombstone
    assert ran.json()["event_ids"] == [event_id]
    assert ran.json()["deleted"]["payload bucket: event bodies"] == 1
    assert "Hashy Id" not in everything_stored(stack)
    record = boto3.client("dynamodb").get_item(
        TableName=stack.physical_name("EventsTable"),
        Key=event_key(key_segment(event_id)),
        ConsistentRead=True,
    )["Item"]
    assert "erased_at" in record
    # and a redelivery is a duplicate that brings nothing back
    again = received(signed_request(json.dumps(document).encode()))
    assert json.loads(again["body"])["status"] == "duplicate"
    assert "Hashy Id" not in everything_stored(stack)


def test_each_erasure_leaves_one_audit_line_without_the_email(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    ops("erase", "--candidate-id", CANDIDATE["id"], "--yes")
    events = boto3.client("logs").get_log_events(
        logGroupName=stack.physical_name("ErasureAuditLogs"), logStreamName="erasures"
    )["events"]
    [line] = [json.loads(event["message"]) for event in events]
    assert line["by"] == "candidate_id"
    assert line["subject"].startswith("candidate#id:")
    assert line["events"] == 2
    assert line["deleted"]["events table: candidate index entries"] == 2
    assert CANDIDATE["id"] not in json.dumps(line)
    assert CANDIDATE["email"] not in json.dumps(line)


def test_erase_one_interview_keeps_the_candidates_other_data(
    ops: Ops, stack: TemplateStack, received: Receive
) -> None:
    given_two_candidates(stack, received)
    ran = ops("--json", "erase", "--interview-id", "other-interview", "--yes")
    assert ran.json()["event_ids"] == [OTHER_ID]
    stored = everything_stored(stack)
    assert "Ola Nordmann" not in stored
    assert CANDIDATE["name"] in stored


def test_ats_notes_are_refused_where_the_ats_api_cannot_delete_them(ops: Ops) -> None:
    ran = ops("erase", "--email", CANDIDATE["email"], "--ats-notes", "--yes")
    assert ran.status == 2
    assert "--ats-notes deletes notes through Lever's API" in ran.err


def test_ats_notes_are_deleted_through_levers_api(ops: Ops) -> None:
    from round0_testkit.standins import ats as standin
    from round0_testkit.standins.ats import AtsStandIn

    with AtsStandIn() as lever:
        # Given a stack whose ATS is Lever, where the sync wrote two notes
        stack = TemplateStack(
            load_template(),
            stack_name="with-lever",
            parameters={"AtsAdapter": "lever", "AtsApiBaseUrl": lever.base_url},
            secret_values={
                "LeverApiSecret": json.dumps(
                    {"api_key": standin.LEVER_API_KEY, "perform_as": standin.LEVER_USER_ID}
                )
            },
        )
        stack.create(boto3.Session())
        stack.register(boto3.client("cloudformation"), LOCAL_API)
        opportunity = lever.add_lever_opportunity(CANDIDATE["email"])
        for number, text in enumerate(
            ["ROUND0 screening completed (screening_completed)\n...", "Recruiter's own note"]
        ):
            lever.lever_notes.append(
                {"noteId": f"n-{number}", "opportunity": opportunity, "value": text}
            )
        # When the candidate is erased with --ats-notes
        ran = ops("--stack", "with-lever", "--json", "erase", "--email", CANDIDATE["email"],
                  "--ats-notes", "--yes")  # fmt: skip
        # Then the sync's note is deleted in Lever, the recruiter's own is kept
        assert ran.status == 0, ran.err
        assert ran.json()["deleted"]["ATS (Lever): screening notes"] == 1
        assert [note["noteId"] for note in lever.lever_notes] == ["n-1"]
