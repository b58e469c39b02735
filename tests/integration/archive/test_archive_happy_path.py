"""The archive consumer's normal work: full results from the API, every answer's audio
in S3 at the seed's key, readable transcripts, and cheap, safe redelivery."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import boto3

from round0_testkit.events import bus_event, load_bus_event
from round0_testkit.faults import FaultyClient
from round0_testkit.standins.round0_api import LOCAL_API_KEY, Round0ApiStandIn

from .conftest import (
    INTERVIEW,
    MIB,
    PREFIX,
    Q1,
    Q2,
    ArchiveHarness,
    ended_event,
    watch_puts,
    watch_reads,
)


def test_every_answer_is_archived_with_transcripts(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given a completed interview that ROUND0's API knows, with two recorded answers
    event = ended_event()
    served = round0.register_interview(event["detail"], audio_size=300 * 1024)

    # When the interview_ended event reaches the archive
    archive.invoke(event)

    # Then each answer's audio is stored at the seed's key, byte for byte
    objects = archive.objects()
    assert set(objects) == {
        f"{PREFIX}question_{Q1}.mp3",
        f"{PREFIX}question_{Q2}.mp3",
        f"{PREFIX}transcript.json",
        f"{PREFIX}transcript.md",
    }
    for question in (Q1, Q2):
        key = f"{PREFIX}question_{question}.mp3"
        assert objects[key] == round0.audio_bytes(INTERVIEW, question)
        head = archive.head(key)
        assert head["ContentType"] == "audio/mpeg"
        assert head["Metadata"]["interview-id"] == INTERVIEW
        assert head["Metadata"]["question-id"] == question
        assert head["Metadata"]["source-etag"].startswith('"')
        assert head["Metadata"]["sha256"] == hashlib.sha256(objects[key]).hexdigest()
    # everything in the template's default class, its hash in its metadata, and no tags
    assert {key: archive.storage_class(key) for key in objects} == dict.fromkeys(
        objects, "INTELLIGENT_TIERING"
    )
    for key in (f"{PREFIX}transcript.json", f"{PREFIX}transcript.md"):
        assert archive.sha256(key) == hashlib.sha256(objects[key]).hexdigest()
    assert archive.tag_count() == 0
    assert archive.head(f"{PREFIX}question_{Q1}.mp3")["Metadata"]["answered-at"] == (
        "2024-01-16T14:33:25Z"
    )
    # the API was asked once, with the key from Secrets Manager
    (api_request,) = round0.api_requests()
    assert api_request.path == f"/api/v1/interviews/{INTERVIEW}"
    assert api_request.headers["Authorization"] == f"Bearer {LOCAL_API_KEY}"
    # the audio came from the API's fresh URLs, not from the webhook's
    assert sorted(request.path.split("?")[0] for request in round0.audio_requests()) == sorted(
        f"/audio/{INTERVIEW}/{question}.mp3" for question in (Q1, Q2)
    )
    # transcript.json is the full results without the temporary URLs
    expected = copy.deepcopy(served)
    for response in expected["responses"]:
        del response["audio_url"]
    assert json.loads(objects[f"{PREFIX}transcript.json"]) == expected
    assert b"audio_url" not in objects[f"{PREFIX}transcript.json"]
    assert archive.head(f"{PREFIX}transcript.json")["ContentType"] == "application/json"
    # transcript.md is the seed's formatTranscripts layout
    assert objects[f"{PREFIX}transcript.md"].decode() == (
        "Question 1: Describe your experience with React hooks.\n\n"
        "Answer: I've been using React hooks extensively for the past three years...\n\n"
        "---\n"
        "\n"
        "Question 2: Tell me about a challenging bug you fixed recently.\n\n"
        "Answer: Last month, we had an intermittent race condition...\n\n"
        "---\n"
    )
    assert archive.dead_letters() == []


def test_a_large_answer_streams_in_parts(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given answers larger than two upload parts (5 MiB each in the tests)
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=12 * MIB + 123)

    # When the interview is archived
    archive.invoke(event)

    # Then each file went in as a three-part multipart upload, complete and exact
    assert s3_calls.calls.count("upload_part") == 6
    assert s3_calls.calls.count("complete_multipart_upload") == 2
    objects = archive.objects()
    for question in (Q1, Q2):
        key = f"{PREFIX}question_{question}.mp3"
        stored = objects[key]
        assert len(stored) == 12 * MIB + 123
        assert stored == round0.audio_bytes(INTERVIEW, question)
        assert archive.storage_class(key) == "INTELLIGENT_TIERING"
        # the storage's strong ETag tells a re-run these bytes: no copy to add the hash
        assert archive.head(key)["Metadata"]["source-etag"].startswith('"')
        assert archive.sha256(key) is None
    assert "copy_object" not in s3_calls.calls
    assert archive.pending_uploads() == []


def test_answers_and_fields_that_are_missing_or_null(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given API results where one answer has no audio and others hold nulls (even
    # where the documents promise a value), and an interview shaped like the dashboard's
    # test event (no audio_url, score or feedback at all) but a real one
    event = ended_event()
    results = copy.deepcopy(event["detail"])
    first, second = results["data"]["responses"]
    del first["audio_url"]
    second.update(score=None, feedback=None, transcript=None, answered_at=None)
    results["data"]["job"]["department"] = None
    round0.register_interview(results)
    test_event = load_bus_event("dashboard_test_event.json")
    test_event["detail"]["id"] = "evt_real_123456789"
    test_event["detail"]["data"]["interview"]["id"] = "sparse-interview-id"
    round0.register_interview(test_event["detail"])

    # When both are archived
    archive.invoke(event)
    archive.invoke(test_event)

    # Then what exists is archived, and the absent audio is not an error
    objects = archive.objects()
    assert f"{PREFIX}question_{Q1}.mp3" not in objects
    assert objects[f"{PREFIX}question_{Q2}.mp3"] == round0.audio_bytes(INTERVIEW, Q2)
    assert "answered-at" not in archive.head(f"{PREFIX}question_{Q2}.mp3")["Metadata"]
    assert (
        objects[f"{PREFIX}transcript.md"]
        .decode()
        .endswith(
            "Question 2: Tell me about a challenging bug you fixed recently.\n\nAnswer: \n\n---\n"
        )
    )
    stored = json.loads(objects[f"{PREFIX}transcript.json"])
    assert stored["responses"][1]["score"] is None
    assert stored["job"]["department"] is None
    assert sorted(key for key in objects if key.startswith("interviews/sparse-interview-id/")) == [
        "interviews/sparse-interview-id/transcript.json",
        "interviews/sparse-interview-id/transcript.md",
    ]
    assert archive.dead_letters() == []


def test_a_test_event_from_the_dashboard_is_skipped_with_one_log_line(
    archive: ArchiveHarness, round0: Round0ApiStandIn, log_output: Any
) -> None:
    # ROUND0's API does not know the dashboard's test interview: archiving it would
    # only dead-letter it and wake someone for nothing
    archive.invoke(load_bus_event("dashboard_test_event.json"))
    assert archive.objects() == {}
    assert archive.dead_letters() == []
    assert round0.requests == []
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert [line["message"] for line in lines if "test event" in line["message"]] == [
        "test event from ROUND0's dashboard: not archived"
        " (ROUND0's API does not know the test interview)"
    ]


def test_a_redelivered_event_costs_nothing(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given an interview archived once
    event = ended_event()
    round0.register_interview(event["detail"])
    archive.invoke(event)
    before = archive.objects()
    requests_before = len(round0.requests)
    s3_calls.calls.clear()
    buckets_read = watch_reads(s3_calls)

    # When EventBridge delivers the same event again
    archive.invoke(event)

    # Then neither ROUND0 nor the archive bucket is touched: the event was archived once
    # (the one S3 call reads the event's body the bus event refers to)
    assert len(round0.requests) == requests_before
    assert s3_calls.calls == ["get_object"]
    assert buckets_read == [archive.payload_bucket]
    assert archive.objects() == before


def test_the_same_audio_is_not_copied_again(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given an interview archived from one event
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=6 * MIB)
    archive.invoke(event)
    modified = {key: archive.head(key)["LastModified"] for key in archive.objects()}
    s3_calls.calls.clear()

    # When another event for the same interview arrives (a replay from the bus archive)
    replay = bus_event({**event["detail"], "id": "evt_replayed"})
    archive.invoke(replay)

    # Then the API gives fresh URLs, but the stored objects' source ETag and size match:
    # no body is read and nothing is written
    assert len(round0.api_requests()) == 2
    assert "put_object" not in s3_calls.calls
    assert "create_multipart_upload" not in s3_calls.calls
    assert {key: archive.head(key)["LastModified"] for key in modified} == modified


def test_a_first_copy_of_a_small_answer_is_one_conditional_put(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given a completed interview whose answers each fit one part
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=300 * 1024)
    puts = watch_puts(s3_calls)

    # When it is archived for the first time
    archive.invoke(event)

    # Then each answer is one PutObject, conditional, asked of nothing before: the two
    # HEADs are the transcripts' (a document compares its digest before writing)
    audio_keys = {f"{PREFIX}question_{q}.mp3" for q in (Q1, Q2)}
    assert {put["Key"] for put in puts if put.get("IfNoneMatch") == "*"} == audio_keys
    assert s3_calls.calls.count("put_object") == 4  # two answers, two transcripts
    assert s3_calls.calls.count("head_object") == 2
    assert all(archive.objects()[key] for key in audio_keys)


def test_a_small_answer_archived_again_is_compared_not_rewritten(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given an interview archived once, its answers each fitting one part
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=300 * 1024)
    archive.invoke(event)
    stored = archive.objects()
    puts = watch_puts(s3_calls)

    # When another event for the same interview arrives (a replay from the bus archive)
    archive.invoke(bus_event({**event["detail"], "id": "evt_replayed"}))

    # Then each answer's conditional write finds its object there, with the same bytes:
    # nothing is written unconditionally
    audio_keys = {f"{PREFIX}question_{q}.mp3" for q in (Q1, Q2)}
    assert {put["Key"] for put in puts if put.get("IfNoneMatch") == "*"} == audio_keys
    assert [put["Key"] for put in puts if "IfNoneMatch" not in put] == []
    assert archive.objects() == stored


def test_a_small_answer_whose_stored_bytes_differ_is_replaced(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given an archived interview whose first answer's object was since overwritten
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=300 * 1024)
    archive.invoke(event)
    key = f"{PREFIX}question_{Q1}.mp3"
    boto3.client("s3").put_object(Bucket=archive.bucket, Key=key, Body=b"not the answer")

    # When the interview is archived again
    archive.invoke(bus_event({**event["detail"], "id": "evt_again"}))

    # Then the object holds the answer's bytes again, with their digest
    restored = archive.objects()[key]
    assert restored == round0.audio_bytes(INTERVIEW, Q1)
    assert archive.sha256(key) == hashlib.sha256(restored).hexdigest()


def test_without_an_etag_identical_bytes_are_not_written_again(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given a storage that sends no ETag, and multipart-sized answers
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=6 * MIB, etag=False)
    archive.invoke(event)
    stored = archive.objects()
    # each was copied onto itself once to keep its hash: nothing else tells its bytes
    assert s3_calls.calls.count("copy_object") == 2
    for question in (Q1, Q2):
        key = f"{PREFIX}question_{question}.mp3"
        assert archive.sha256(key) == hashlib.sha256(stored[key]).hexdigest()
        assert archive.storage_class(key) == "INTELLIGENT_TIERING"
        assert archive.head(key)["Metadata"]["question-id"] == question
        assert archive.head(key)["ContentType"] == "audio/mpeg"
    s3_calls.calls.clear()

    # When the interview is archived again from another event
    archive.invoke(bus_event({**event["detail"], "id": "evt_again"}))

    # Then the bytes are streamed and hashed, found identical, and the upload abandoned
    assert s3_calls.calls.count("abort_multipart_upload") == 2
    assert "complete_multipart_upload" not in s3_calls.calls
    assert "put_object" not in s3_calls.calls
    assert archive.objects() == stored
    assert archive.pending_uploads() == []


def test_an_answer_archived_by_the_old_code_is_copied_once_then_left_alone(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given answers archived before the hash moved into the metadata: the right bytes in
    # S3 Standard, their SHA-256 in a `sha256` tag, none in the metadata
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=300 * 1024)
    s3 = boto3.client("s3")
    keys = [f"{PREFIX}question_{q}.mp3" for q in (Q1, Q2)]
    for question, key in zip((Q1, Q2), keys, strict=True):
        body = round0.audio_bytes(INTERVIEW, question)
        s3.put_object(
            Bucket=archive.bucket,
            Key=key,
            Body=body,
            ContentType="audio/mpeg",
            Metadata={"interview-id": INTERVIEW, "question-id": question},
            Tagging=f"sha256={hashlib.sha256(body).hexdigest()}",
        )
    puts = watch_puts(s3_calls)

    # When an event for the interview arrives
    archive.invoke(event)

    # Then each such answer is written once more (its tag is not read): now with its hash
    # in its metadata, in the archive's storage class, and without the tag
    rewritten = [put["Key"] for put in puts if "IfNoneMatch" not in put]
    assert sorted(key for key in rewritten if key.endswith(".mp3")) == sorted(keys)
    for question, key in zip((Q1, Q2), keys, strict=True):
        assert archive.objects()[key] == round0.audio_bytes(INTERVIEW, question)
        assert archive.sha256(key) == hashlib.sha256(archive.objects()[key]).hexdigest()
        assert archive.storage_class(key) == "INTELLIGENT_TIERING"
    assert archive.tag_count() == 0

    # And a later run finds them unchanged and writes nothing
    puts.clear()
    archive.invoke(bus_event({**event["detail"], "id": "evt_again"}))
    assert [put["Key"] for put in puts if "IfNoneMatch" not in put] == []
    assert not {"get_object_tagging", "put_object_tagging"} & set(s3_calls.calls)
