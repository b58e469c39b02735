"""Audio downloads going wrong: a host not on the allowlist, a file too large, a download
that breaks half-way; and question ids of any shape, each kept under its own key. Each
answer is handled on its own; the event is retried or dead-lettered with the list of what
is missing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from round0.failures import TransientFailure
from round0.keys import key_segment
from round0_testkit.faults import FaultyClient
from round0_testkit.standins.round0_api import Fault, Round0ApiStandIn

from .conftest import INTERVIEW, MIB, PREFIX, Q1, Q2, ArchiveHarness, ended_event, watch_puts


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/audio/abc123.mp3",
        "https://storage.round0.io/audio/abc123.mp3",  # ROUND0's host, not allowlisted here
        "ftp://127.0.0.1/audio.mp3",
        "http://127.0.0.1:9/audio.mp3",  # the stand-in's host on another port
    ],
)
def test_audio_from_a_host_not_allowlisted_is_refused(
    archive: ArchiveHarness, round0: Round0ApiStandIn, url: str
) -> None:
    # Given the API hands out one audio URL on an origin that is not allowlisted
    event = ended_event()
    round0.register_interview(event["detail"])
    round0.set_audio_url(INTERVIEW, Q1, url)

    # When the interview is archived
    archive.invoke(event)

    # Then the other answer and the transcripts are archived, the refused one is not,
    # and the event is dead-lettered with what is missing (retrying cannot help)
    objects = archive.objects()
    assert f"{PREFIX}question_{Q1}.mp3" not in objects
    assert objects[f"{PREFIX}question_{Q2}.mp3"] == round0.audio_bytes(INTERVIEW, Q2)
    assert {f"{PREFIX}transcript.json", f"{PREFIX}transcript.md"} <= set(objects)
    assert [request.path.split("?")[0] for request in round0.audio_requests()] == [
        f"/audio/{INTERVIEW}/{Q2}.mp3"
    ]
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"] == (
        f"incomplete_archive: 1 of 2 answers missing: question_{Q1} "
        "(audio_host_not_allowed: not https on an allowlisted host)"
    )


def test_a_redirect_off_the_allowlist_is_not_followed(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given the storage redirects the first download to a host not allowlisted
    event = ended_event()
    round0.register_interview(event["detail"])
    round0.fail_audio(Fault(302, headers={"Location": "https://evil.example.com/a.mp3"}))

    # When the interview is archived
    archive.invoke(event)

    # Then that answer is missing for that reason, the other is archived
    (record,) = archive.dead_letters()
    assert "audio_host_not_allowed" in record["responsePayload"]["errorMessage"]
    assert f"{PREFIX}question_{Q2}.mp3" in archive.objects()


def test_a_file_declared_larger_than_the_limit_is_not_downloaded(
    archive: ArchiveHarness, round0: Round0ApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of 1 MiB and answers of 2 MiB (Content-Length says so)
    monkeypatch.setenv("AUDIO_MAX_BYTES", str(MIB))
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=2 * MIB)

    # When the interview is archived
    archive.invoke(event)

    # Then no audio is stored, the transcripts are, and the reason lists both answers
    assert sorted(archive.objects()) == [f"{PREFIX}transcript.json", f"{PREFIX}transcript.md"]
    (record,) = archive.dead_letters()
    message = record["responsePayload"]["errorMessage"]
    assert message.startswith("incomplete_archive: 2 of 2 answers missing")
    assert message.count("audio_too_large: 2097152 bytes declared") == 2


def test_a_file_growing_past_the_limit_is_cut_off_and_its_upload_aborted(
    archive: ArchiveHarness,
    round0: Round0ApiStandIn,
    s3_calls: FaultyClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a limit of 7 MiB and a first answer of 12 MiB sent without Content-Length
    monkeypatch.setenv("AUDIO_MAX_BYTES", str(7 * MIB))
    event = ended_event()
    results = copy.deepcopy(event["detail"])
    del results["data"]["responses"][1]["audio_url"]
    round0.register_interview(results, audio_size=12 * MIB)
    round0.fail_audio(Fault(undeclared_length=True))

    # When the interview is archived
    archive.invoke(event)

    # Then the upload begun for it is aborted: no object, no parts left behind
    assert "abort_multipart_upload" in s3_calls.calls
    assert archive.pending_uploads() == []
    assert f"{PREFIX}question_{Q1}.mp3" not in archive.objects()
    (record,) = archive.dead_letters()
    assert "audio_too_large: over 7340032 bytes" in record["responsePayload"]["errorMessage"]


def test_any_question_id_is_archived_under_its_own_key_in_the_folder(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given results whose question ids would be paths, dot segments, control or
    # invisible characters, or a number, were they used as they are
    event = ended_event()
    results = copy.deepcopy(event["detail"])
    good = results["data"]["responses"][1]
    odd_ids: list[Any] = ["../../escape", "a/b", "bell\x07", "..", "zero\u200bwidth\u202e", 42]
    results["data"]["responses"] = [{**good, "question_id": odd} for odd in odd_ids] + [good]
    round0.register_interview(results)

    # When the interview is archived
    archive.invoke(event)

    # Then every answer's audio is stored, each under its id's own encoded segment in
    # the interview's folder, and the interview is complete
    objects = archive.objects()
    audio = {key: body for key, body in objects.items() if key.endswith(".mp3")}
    assert audio == {
        f"{PREFIX}question_{key_segment(str(question))}.mp3": round0.audio_bytes(
            INTERVIEW, str(question)
        )
        for question in [*odd_ids, Q2]
    }
    assert f"{PREFIX}question_..%2F..%2Fescape.mp3" in audio
    assert f"{PREFIX}question_%2E%2E.mp3" in audio
    assert all(key.startswith(PREFIX) and key.count("/") == 2 for key in objects)
    assert archive.dead_letters() == []


def test_an_answer_without_a_question_id_is_archived_by_its_position(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given results whose first answer has a null question id (the stand-in serves its
    # audio under "None")
    event = ended_event()
    results = copy.deepcopy(event["detail"])
    results["data"]["responses"][0]["question_id"] = None
    round0.register_interview(results)

    # When the interview is archived
    archive.invoke(event)

    # Then its audio is kept as answer_1, the other under its question id
    objects = archive.objects()
    assert objects[f"{PREFIX}answer_1.mp3"] == round0.audio_bytes(INTERVIEW, "None")
    assert objects[f"{PREFIX}question_{Q2}.mp3"] == round0.audio_bytes(INTERVIEW, Q2)
    assert archive.dead_letters() == []


def test_a_download_broken_half_way_is_retried_and_completes(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given the first download drops after 7 MiB of 12, the second stalls after 1 MiB
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=12 * MIB)
    round0.fail_audio(Fault(break_after=7 * MIB))
    round0.fail_audio(Fault(break_after=MIB, hang=True))

    # When the interview is archived
    archive.invoke(event)

    # Then both answers are stored whole, after two retries, with no parts left over
    objects = archive.objects()
    for question in (Q1, Q2):
        assert objects[f"{PREFIX}question_{question}.mp3"] == round0.audio_bytes(
            INTERVIEW, question
        )
    assert len(archive.pauses) == 2
    assert s3_calls.calls.count("abort_multipart_upload") == 1  # the first, broken copy
    assert archive.pending_uploads() == []
    assert archive.dead_letters() == []


def test_a_download_that_keeps_breaking_fails_the_event_and_the_retry_finishes(
    archive: ArchiveHarness, round0: Round0ApiStandIn, s3_calls: FaultyClient
) -> None:
    # Given the first answer's download breaks half-way on every attempt
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=MIB)
    round0.fail_audio(Fault(break_after=MIB // 2), times=4)

    # When the interview is archived, Then the other answer is kept, and the invocation
    # fails with the list of what is missing, for Lambda to retry
    with pytest.raises(TransientFailure) as failure:
        archive.invoke(event)
    assert failure.value.reason == (
        f"incomplete_archive: 1 of 2 answers missing: question_{Q1} "
        f"(audio_broken: ChunkedEncodingError)"
    )
    assert f"{PREFIX}question_{Q2}.mp3" in archive.objects()
    assert f"{PREFIX}question_{Q1}.mp3" not in archive.objects()
    assert archive.dead_letters() == []

    # When Lambda retries the event and the storage has recovered
    puts = watch_puts(s3_calls)
    archive.invoke(event)

    # Then the missing answer is copied and the one already archived is not written
    # again (a file of one part is read again and compared: its conditional write
    # finds the object there)
    assert archive.objects()[f"{PREFIX}question_{Q1}.mp3"] == round0.audio_bytes(INTERVIEW, Q1)
    kept = f"{PREFIX}question_{Q2}.mp3"
    assert [put for put in puts if put["Key"] == kept and "IfNoneMatch" not in put] == []
    assert archive.dead_letters() == []


def test_a_storage_error_on_one_answer_does_not_lose_the_other(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given the storage answers 404 for the first answer (an expired or revoked URL)
    event = ended_event()
    round0.register_interview(event["detail"])
    round0.fail_audio(Fault(404, body="not found"))

    # When the interview is archived
    archive.invoke(event)

    # Then the second answer is archived and the first reported with the status
    assert f"{PREFIX}question_{Q2}.mp3" in archive.objects()
    (record,) = archive.dead_letters()
    assert f"question_{Q1} (audio_http_404" in record["responsePayload"]["errorMessage"]


def test_a_copy_stops_before_the_invocation_runs_out_of_time(
    archive: ArchiveHarness,
    round0: Round0ApiStandIn,
    lambda_context: Any,
    s3_calls: FaultyClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an invocation with less time left than a read timeout plus 5 s
    monkeypatch.setattr(lambda_context, "get_remaining_time_in_millis", lambda: 5_000)
    event = ended_event()
    round0.register_interview(event["detail"], audio_size=12 * MIB)

    # When the interview is archived
    with pytest.raises(TransientFailure) as failure:
        archive.invoke(event)

    # Then no copy was started into the last seconds: each answer is reported for the
    # retry, and no upload is left unfinished
    assert failure.value.reason.startswith("incomplete_archive: 2 of 2 answers missing")
    assert failure.value.reason.count("audio_out_of_time") == 2
    assert archive.pending_uploads() == []
    assert "complete_multipart_upload" not in s3_calls.calls
