"""ROUND0's full results for one interview (`GET /interviews/{id}`), and what is kept.

The API is documented only in outline: full results (job, candidate, `responses[]`
with transcripts and fresh `audio_url`s) for a completed interview, limited
information otherwise. The document is read as the webhook's `data` object (also when
wrapped in a `data` field) and read leniently: a response that is not valid is
reported on its own, without losing the others. Pure: no I/O.
"""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from round0.events import InterviewResponse
from round0.transcripts import Answer

COMPLETED = "completed"


class InvalidResults(ValueError):
    """The API's answer is not a results document. The message names the problem."""


class InvalidResponse(ValueError):
    """One entry of `responses[]` cannot be read. The message names the fields only."""


@dataclass(frozen=True)
class FullResults:
    document: dict[str, Any]
    interview_id: str
    status: str | None

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def raw_responses(self) -> list[Any]:
        responses = self.document.get("responses")
        return responses if isinstance(responses, list) else []


def read_results(document: Any) -> FullResults:
    """The results in an API answer, unwrapped from a `data` field if there is one."""
    if not isinstance(document, dict):
        raise InvalidResults("results are not a JSON object")
    inner = document.get("data")
    if isinstance(inner, dict) and "interview" in inner:
        document = inner
    interview = document.get("interview")
    if not isinstance(interview, dict):
        raise InvalidResults("results have no interview object")
    interview_id = interview.get("id")
    if not isinstance(interview_id, str) or not interview_id:
        raise InvalidResults("results have no interview id")
    status = interview.get("status", document.get("status"))
    return FullResults(
        document=document,
        interview_id=interview_id,
        status=status if isinstance(status, str) else None,
    )


def parse_response(raw: Any) -> InterviewResponse:
    """One response; a null where the model has a default (e.g. transcript) is accepted."""
    if not isinstance(raw, dict):
        raise InvalidResponse("response is not a JSON object")
    try:
        return InterviewResponse.model_validate(raw)
    except ValidationError:
        pass
    try:
        return InterviewResponse.model_validate(
            {key: value for key, value in raw.items() if value is not None}
        )
    except ValidationError as exc:
        fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise InvalidResponse(f"invalid fields: {', '.join(fields) or 'unknown'}") from exc


def without_audio_urls(results: FullResults) -> dict[str, Any]:
    """The full results as archived: every temporary `audio_url` removed."""
    document = copy.deepcopy(results.document)
    for response in document.get("responses") or []:
        if isinstance(response, dict):
            response.pop("audio_url", None)
    return document


@dataclass(frozen=True)
class RawAnswer:
    """One entry of `responses[]` as the transcript shows it, however invalid the rest."""

    question_text: str
    transcript: str


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def transcript_answers(responses: Sequence[Any]) -> list[Answer]:
    """Every entry of `responses[]`, in the API's order, read leniently for the transcript.

    An entry that is not an object, or lacks a field, still has its block (empty
    fields), so the numbering matches the API's.
    """
    answers: list[Answer] = []
    for response in responses:
        fields: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
        answers.append(
            RawAnswer(_text(fields.get("question_text")), _text(fields.get("transcript")))
        )
    return answers
