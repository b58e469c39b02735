"""ROUND0's full results for one interview (`GET /interviews/{id}`), and what is kept.

The API is documented only in outline: full results (job, candidate, `responses[]`
with transcripts and fresh `audio_url`s) for a completed interview, limited
information otherwise; the seed's own handler reads `fullResults.responses`. So every
shape it may take is read: flat (top-level `id`, `status`, `job`, `candidate`,
`responses`), nested (an `interview` object, as the webhook's `data`), or either one
wrapped in `data`. `responses[]` is read at the top. The interview's id and status are
the answer's when it has them, else the event's (an `interview_ended` says the
interview is completed). Responses are read leniently: one that is not valid is
reported on its own, without losing the others. Pure: no I/O.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from round0.reading import identifier, section, text
from round0.transcripts import Answer
from round0_archive.reading import Answer as ArchivedAnswer

COMPLETED = "completed"
# statuses an interview never leaves: retrying cannot bring its results
TERMINAL_STATUSES = frozenset({"expired"})
# what a results document has at its top level, in any shape
_RESULTS_FIELDS = frozenset({"interview", "responses", "id", "status", "job", "candidate"})


class InvalidResults(ValueError):
    """The API's answer is not a results document. The message names the problem."""


@dataclass(frozen=True)
class FullResults:
    document: dict[str, Any]
    interview_id: str
    status: str | None

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def terminal(self) -> bool:
        """The interview ended without results (expired): it never will have them."""
        return self.status in TERMINAL_STATUSES

    @property
    def raw_responses(self) -> list[Any]:
        responses = self.document.get("responses")
        return responses if isinstance(responses, list) else []


def _field(document: dict[str, Any], interview: dict[str, Any], name: str) -> Any:
    """`interview.<name>` (nested shape), else the top-level `<name>` (flat shape)."""
    value = interview.get(name)
    return value if value is not None else document.get(name)


def read_results(
    document: Any, interview_id: str, reported_status: str | None = None
) -> FullResults:
    """The results in an API answer, whatever its shape (see the module's docstring).

    `interview_id` and `reported_status` are the event's: they stand in for what the
    answer leaves out. An id the answer does give is kept, so a mismatch shows.
    """
    if not isinstance(document, dict):
        raise InvalidResults("results are not a JSON object")
    inner = document.get("data")
    if isinstance(inner, dict) and not _RESULTS_FIELDS & document.keys():
        document = inner
    interview = document.get("interview")
    if interview is None:
        interview = {}
    elif not isinstance(interview, dict):
        raise InvalidResults("results have an interview that is not an object")
    # an id of another scalar type is read as its text, as the door reads ids
    answered_id = identifier(_field(document, interview, "id"))
    status = text(_field(document, interview, "status"))
    return FullResults(
        document=document,
        interview_id=answered_id or interview_id,
        status=status or reported_status,
    )


def parse_response(raw: Any) -> ArchivedAnswer:
    """One entry of `responses[]`, read leniently: what it lacks is None (an entry that
    is not an object has nothing)."""
    return ArchivedAnswer.model_validate(section(raw))


def without_audio_urls(results: FullResults) -> dict[str, Any]:
    """The full results as archived: every temporary `audio_url` removed. Only what changes
    is copied: a deep copy recurses once per level, and an answer nested a few thousand
    levels deep (which the JSON reader takes) would exhaust the recursion limit."""
    document = dict(results.document)
    responses = document.get("responses")
    if isinstance(responses, list):
        document["responses"] = [
            {name: value for name, value in response.items() if name != "audio_url"}
            if isinstance(response, dict)
            else response
            for response in responses
        ]
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
