"""ROUND0's API answers, fuzzed: whatever the bytes and the status, the archive's reader
gives full results or a classified failure (transient: retried; permanent: dead-lettered),
never an unhandled error; and full results can always be written as transcripts, every
answer under a key S3 takes, whatever its question id (issue 18: an id is never a reason
not to archive)."""

from __future__ import annotations

import io
import json
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from round0.failures import PermanentFailure, TransientFailure
from round0.http import Timeouts, is_retryable
from round0.transcripts import format_transcripts
from round0_archive.api import NotCompletedYet, Round0Api
from round0_archive.keys import audio_key
from round0_archive.results import (
    FullResults,
    parse_response,
    transcript_answers,
    without_audio_urls,
)

from .conftest import tally
from .strategies import HOSTILE_BODIES, KEY_IDS, encode, json_values, valid_events

INTERVIEW = "i-1"


def answer(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO(body)
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    return response


@st.composite
def results_documents(draw: st.DrawFn) -> bytes:
    """A results document in any shape ROUND0 may use, from a valid event's data."""
    event = draw(valid_events().filter(lambda e: e["type"] == "interview_ended"))
    data = event["data"]
    interview = data.get("interview", {})
    interview["id"] = draw(st.just(INTERVIEW) | KEY_IDS)
    interview["status"] = draw(st.sampled_from(["completed", "expired", "in_progress"]) | st.text())
    rest = {key: value for key, value in data.items() if key != "interview"}
    shape = draw(st.sampled_from(["nested", "flat", "wrapped", "bare"]))
    document = {
        "nested": data,
        "flat": {**interview, **rest},
        "wrapped": {"data": data},
        "bare": rest,
    }[shape]
    return encode(document, draw(st.booleans()))


BODIES = st.one_of(
    results_documents(),
    HOSTILE_BODIES,
    json_values().map(encode),
    st.builds(
        lambda responses: encode({"status": "completed", "responses": responses}),
        st.lists(json_values(6), max_size=4),
    ),
)


# S3 keys hold at most 1,024 bytes of UTF-8
MAX_KEY_BYTES = 1024


def write_transcripts(results: FullResults) -> None:
    """What the archive writes for full results: must never fail (a lone surrogate, which
    JSON allows and UTF-8 does not, is written as `?`), and every answer has its key."""
    archived = without_audio_urls(results)
    json.dumps(archived, indent=2, ensure_ascii=False).encode("utf-8", "replace")
    format_transcripts(transcript_answers(results.raw_responses)).encode("utf-8", "replace")
    responses = archived.get("responses")
    assert not any(
        isinstance(response, dict) and "audio_url" in response
        for response in (responses if isinstance(responses, list) else [])
    )
    keys = set()
    for number, raw in enumerate(results.raw_responses, start=1):
        answer = parse_response(raw)
        key = audio_key(results.interview_id, answer.question_id, number)
        assert len(key.encode("utf-8")) <= MAX_KEY_BYTES, key
        keys.add(key)
    # two answers share a key only when they share a question id
    question_ids = [parse_response(raw).question_id for raw in results.raw_responses]
    distinct = {qid for qid in question_ids if qid} | {
        n for n, qid in enumerate(question_ids) if not qid
    }
    assert len(keys) == len(distinct)


def outcome(call: Any) -> tuple[str, Any]:
    """What a call came to: ("results", results) or the failure's kind and reason code."""
    try:
        return "results", call()
    except TransientFailure as failure:
        return "transient", failure.reason.split(":")[0]
    except PermanentFailure as failure:
        return "permanent", failure.reason.split(":")[0]
    except NotCompletedYet:
        return "not completed yet", None


KNOWN_STATUSES = {None, "completed", "expired", "in_progress"}


@given(body=BODIES, reported=st.sampled_from([None, "completed"]))
def test_any_answer_is_results_or_a_classified_failure(body: bytes, reported: str | None) -> None:
    kind, found = outcome(lambda: Round0Api._read(answer(200, body), INTERVIEW, reported))
    assert kind in {"results", "transient", "permanent"}
    if kind == "results":
        write_transcripts(found)
        status = found.status if found.status in KNOWN_STATUSES else "other"
        tally("results_reader", f"results ({status})")
    else:
        tally("results_reader", f"{kind} {found}")


class OneAnswer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def get(self, *args: Any, **kwargs: Any) -> requests.Response:
        return answer(self.status, self.body)


class Key:
    @staticmethod
    def current() -> str:
        return "rz_live_test"

    @staticmethod
    def refreshed() -> str | None:
        return None


@given(status=st.just(200) | st.integers(100, 599), body=BODIES)
def test_any_status_and_answer_is_results_or_a_classified_failure(status: int, body: bytes) -> None:
    api = Round0Api(
        "https://rz-app-omega.vercel.app/api/v1",
        Key(),
        Timeouts(1, 1),
        session=OneAnswer(status, body),  # type: ignore[arg-type]
    )
    kind, found = outcome(lambda: api.fetch_results(INTERVIEW, "completed"))
    if status != 200:  # the one rule decides what is worth retrying
        assert kind == ("transient" if is_retryable(status) else "permanent"), (status, found)
    if kind == "results":
        assert (found.completed, found.interview_id) == (True, INTERVIEW)
        write_transcripts(found)
        tally("api_answers", "results")
    else:
        named = status if status in {401, 403, 404, 408, 425, 429} else f"{status // 100}xx"
        tally("api_answers", f"{kind} {found}" if status == 200 else f"{kind} (HTTP {named})")
