"""Interview transcripts as the seed writes them (`formatTranscripts`). Pure: no I/O.

One block per answer, in the order given, joined by a newline:
`Question {n}: {question text}\n\nAnswer: {transcript}\n\n---\n`. The archive writes
it as `transcript.md`; the ATS sends it as the screening notes.
"""

from collections.abc import Iterable
from typing import Protocol


class Answer(Protocol):
    """What a transcript block shows of one answer (a missing part shows empty)."""

    @property
    def question_text(self) -> str | None: ...

    @property
    def transcript(self) -> str | None: ...


def format_transcripts(answers: Iterable[Answer]) -> str:
    """The seed's `formatTranscripts`: one block per answer, joined by a newline."""
    return "\n".join(
        f"Question {number}: {answer.question_text or ''}\n\n"
        f"Answer: {answer.transcript or ''}\n\n---\n"
        for number, answer in enumerate(answers, start=1)
    )
