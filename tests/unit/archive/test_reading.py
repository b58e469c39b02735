"""What the archive reads of an event and of ROUND0's answers, however they drifted: the
interview's id (the one field it cannot do without), each answer's id, duration and time,
and where each answer's audio is kept. With fake ports: asserts on what is written."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from round0.consumer import ConsumerEvent
from round0.failures import PermanentFailure
from round0.http import Timeouts
from round0.keys import key_segment
from round0_archive.audio import AudioDownload, AudioLimits
from round0_archive.bucket import Fingerprint, StoredObject, UploadOutcome
from round0_archive.keys import audio_key
from round0_archive.results import FullResults, parse_response, read_results
from round0_archive.service import Archiver, audio_metadata

AUDIO = b"ID3 fake audio"


def plenty() -> float:
    return 60.0


class Api:
    """ROUND0's API: answers with `responses`, and records which interview it was asked for."""

    def __init__(self, responses: Any) -> None:
        self.responses = responses
        self.asked: list[str] = []

    def fetch_results(self, interview_id: str, reported_status: str | None = None) -> FullResults:
        self.asked.append(interview_id)
        return read_results({"responses": self.responses}, interview_id, reported_status)


class Audio:
    def open(self, url: str, time_left: Callable[[], float] = plenty) -> AudioDownload:
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(AUDIO)
        response.headers = CaseInsensitiveDict({"Content-Length": str(len(AUDIO))})
        return AudioDownload(response, AudioLimits(1024, Timeouts(1, 1)), time_left)


@dataclass
class Bucket:
    part_size: int = 8 * 1024 * 1024
    documents: dict[str, bytes] = field(default_factory=dict)
    audio: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    def head(self, key: str) -> StoredObject | None:
        return None

    def stored_sha256(self, key: str) -> str | None:
        return None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.documents.pop(key, None)
            self.audio.pop(key, None)

    def put_document(self, key: str, body: bytes, content_type: str) -> bool:
        self.documents[key] = body
        return True

    def upload(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str,
        metadata: dict[str, str],
        unchanged: Callable[[Fingerprint], bool] = lambda _: False,
        *,
        only_if_absent: bool = False,
        hash_multipart: bool = True,
    ) -> UploadOutcome:
        data = b"".join(chunks)
        self.audio[key] = (data, metadata)
        return UploadOutcome(True, Fingerprint(len(data), hashlib.sha256(data).hexdigest()), 1)


def ended(data: Any) -> ConsumerEvent:
    document = {"id": "evt_1", "type": "interview_ended", "created": 1, "data": data}
    return ConsumerEvent("evt_1", "interview_ended", document)


def archive(event: ConsumerEvent, responses: Any) -> tuple[Api, Bucket]:
    api, bucket = Api(responses), Bucket()
    Archiver(api, Audio(), bucket, sleep=lambda _: None).archive(event, plenty)
    return api, bucket


# ------------------------------------------------------------------ the interview's id


@pytest.mark.parametrize(
    "data",
    [
        {},
        None,
        {"interview": None},
        {"interview": {"status": "completed"}},
        {"interview": {"id": None}},
        {"interview": {"id": "  "}},
        {"interview": {"id": {"value": "i-1"}}},
        {"interview": {"id": "x" * 1025}},
    ],
    ids=["no-interview", "null-data", "null-interview", "no-id", "null", "blank", "object", "long"],
)
def test_an_event_without_an_interview_id_is_dead_lettered_naming_the_field(data: Any) -> None:
    # Given an interview_ended with no usable interview id
    api, bucket = Api([]), Bucket()
    # When it is archived, Then it fails for good, and the reason names the field
    with pytest.raises(PermanentFailure) as raised:
        Archiver(api, Audio(), bucket).archive(ended(data), plenty)
    assert raised.value.reason.startswith("missing_field: data.interview.id: ")
    # and nothing was asked of ROUND0 or written
    assert (api.asked, bucket.documents, bucket.audio) == ([], {}, {})


def test_a_numeric_interview_id_is_read_as_its_text() -> None:
    # Given an interview id sent as a number
    api, bucket = archive(ended({"interview": {"id": 660}}), [])
    # Then ROUND0 is asked for it as text, and the transcripts are in its folder
    assert api.asked == ["660"]
    assert sorted(bucket.documents) == [
        "interviews/660/transcript.json",
        "interviews/660/transcript.md",
    ]


def test_an_interview_id_holding_a_slash_stays_one_folder() -> None:
    api, bucket = archive(ended({"interview": {"id": "a/../b"}}), [])
    assert api.asked == ["a/../b"]  # ROUND0 is asked for the id as it is
    assert "interviews/a%2F..%2Fb/transcript.json" in bucket.documents


# ------------------------------------------------------------------ the answers


def test_drifted_answers_are_all_archived_each_under_its_own_key() -> None:
    # Given answers whose ids and fields drifted from the documented shape
    responses = [
        {"question_id": 7, "audio_url": "https://a/1.mp3", "duration_seconds": 4.5},
        {"question_id": "q/2", "audio_url": "https://a/2.mp3", "duration_seconds": None},
        {"audio_url": "https://a/3.mp3", "answered_at": "Tue, 16 Jan 2024 14:33:25 GMT"},
        {"question_id": None, "audio_url": "https://a/4.mp3", "answered_at": 1705415605000},
    ]
    # When the interview is archived
    _, bucket = archive(ended({"interview": {"id": "i-1"}}), responses)
    # Then every answer's audio is kept: a numeric or '/' id as one segment, none by position
    assert {key: data for key, (data, _) in bucket.audio.items()} == {
        "interviews/i-1/question_7.mp3": AUDIO,
        "interviews/i-1/question_q%2F2.mp3": AUDIO,
        "interviews/i-1/answer_3.mp3": AUDIO,
        "interviews/i-1/answer_4.mp3": AUDIO,
    }
    # and each with the metadata it has: what the answer lacks is left out
    metadata = {key: meta for key, (_, meta) in bucket.audio.items()}
    assert metadata["interviews/i-1/question_7.mp3"] == {
        "interview-id": "i-1",
        "question-id": "7",
        "duration-seconds": "4.5",
    }
    assert metadata["interviews/i-1/question_q%2F2.mp3"] == {
        "interview-id": "i-1",
        "question-id": "q/2",  # a header value holds a '/' as it is
    }
    assert metadata["interviews/i-1/answer_3.mp3"]["answered-at"] == "2024-01-16T14:33:25Z"
    assert metadata["interviews/i-1/answer_4.mp3"]["answered-at"] == "2024-01-16T14:33:25Z"


@pytest.mark.parametrize("responses", [None, "x", {"question_id": "q-1"}, 5])
def test_responses_that_are_not_a_list_archive_the_transcripts_only(responses: Any) -> None:
    _, bucket = archive(ended({"interview": {"id": "i-1"}}), responses)
    assert bucket.audio == {}
    assert bucket.documents["interviews/i-1/transcript.md"] == b""


def test_an_entry_that_is_not_an_object_is_an_answer_without_audio() -> None:
    # Given a responses list holding an entry that is not an object
    api, bucket = Api(["not an object", {"question_id": "q-2", "transcript": "Hi"}]), Bucket()
    # When it is archived
    report = Archiver(api, Audio(), bucket).archive(ended({"interview": {"id": "i-1"}}), plenty)
    # Then both keep their place: the first has no audio, and both are in the transcript
    assert report.without_audio == ["answer_1", "question_q-2"]
    assert report.missing == []
    assert bucket.documents["interviews/i-1/transcript.md"] == (
        b"Question 1: \n\nAnswer: \n\n---\n\nQuestion 2: \n\nAnswer: Hi\n\n---\n"
    )


def test_the_metadata_of_a_documented_answer() -> None:
    response = parse_response(
        {"question_id": "q-1", "duration_seconds": 145, "answered_at": "2024-01-16T14:33:25Z"}
    )
    assert audio_metadata("i-1", response) == {
        "interview-id": "i-1",
        "question-id": "q-1",
        "duration-seconds": "145",
        "answered-at": "2024-01-16T14:33:25Z",
    }


# ------------------------------------------------------------------ any drift

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2024-01-16T14:33:25Z", "2024-01-16 14:33", "1705415605000", "a/b", ".."]),
)
DRIFTED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ANSWER_FIELDS = ("question_id", "question_text", "transcript", "audio_url", "duration_seconds")
ANSWERS = st.one_of(
    DRIFTED,
    st.fixed_dictionaries(
        {}, optional=dict.fromkeys((*ANSWER_FIELDS, "answered_at", "score"), DRIFTED)
    ),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(raw=ANSWERS, number=st.integers(min_value=1, max_value=500))
def test_any_drifted_answer_is_read_and_kept_in_the_interviews_folder(
    raw: Any, number: int
) -> None:
    # Given any answer entry, of any shape: When it is read, it does not raise
    response = parse_response(raw)
    key = audio_key("i-1", response.question_id, number)
    # Then its audio has one key, one segment inside the interview's folder, valid for S3
    assert key.startswith("interviews/i-1/")
    assert key.count("/") == 2
    assert len(key.encode("utf-8")) <= 1024
    # and its metadata can be sent as HTTP headers
    metadata = audio_metadata("i-1", response)
    assert all(value.isascii() and value.isprintable() for value in metadata.values())


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    data=st.one_of(
        DRIFTED,
        st.fixed_dictionaries(
            {}, optional={"interview": st.one_of(DRIFTED, st.fixed_dictionaries({"id": DRIFTED}))}
        ),
    ),
    responses=st.one_of(DRIFTED, st.lists(ANSWERS, max_size=3)),
)
def test_any_drifted_event_is_archived_or_fails_naming_the_missing_field(
    data: Any, responses: Any
) -> None:
    # Given an interview_ended whose data (and ROUND0's answer) drifted any way
    api, bucket = Api(responses), Bucket()
    # When it is archived
    failure: PermanentFailure | None = None
    try:
        Archiver(api, Audio(), bucket).archive(ended(data), plenty)
    except PermanentFailure as raised:
        failure = raised
    if failure is not None:
        # Then either it could not be, for want of the interview's id, and says so
        assert failure.reason.startswith("missing_field: data.interview.id: ")
        assert api.asked == []
    else:
        # or ROUND0 was asked for the id the event names, and the transcripts are written
        assert len(api.asked) == 1
        assert sorted(bucket.documents) == [
            f"interviews/{key_segment(api.asked[0])}/transcript.json",
            f"interviews/{key_segment(api.asked[0])}/transcript.md",
        ]
        # with every answer that has audio kept beside them
        assert all(
            key.startswith(f"interviews/{key_segment(api.asked[0])}/") for key in bucket.audio
        )
