"""The text an ATS note holds, and how it is kept under the ATS's size limit.

A note longer than the limit is split into numbered parts, cut at a line break where
one is near; past `max_parts` the last part is truncated with a visible marker that
says how much is missing and where the full transcripts are. Never fails. Pure.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from round0_ats.ports import StepLog
from round0_ats.screening import CandidateUpdate, ScreeningStatus

# Neither Greenhouse nor Lever documents a size limit for a note; 10,000 characters is
# a conservative choice (a 15-minute screening is about 13,000 characters of
# transcript, so two or three notes). At most 10 notes per event; past that, truncated.
TRUNCATION_MARKER = "\n[ROUND0: {missing} more characters not shown here; full transcripts: {url}]"


@dataclass(frozen=True)
class NoteLimit:
    """An ATS's note size, in characters, and how many notes one event may write."""

    max_chars: int
    max_parts: int = 10


NOTE_LIMIT = NoteLimit(max_chars=10_000, max_parts=10)
# The tag each status puts on the candidate's record (Greenhouse and Lever alike).
TAGS = {
    ScreeningStatus.IN_PROGRESS: "ROUND0 screening in progress",
    ScreeningStatus.COMPLETED: "ROUND0 screening completed",
}


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{seconds} s ({minutes} min {rest} s)"


def screening_note(update: CandidateUpdate) -> str:
    """The note for one update: status, times, link; summary and transcripts when done."""
    match update.status:
        case ScreeningStatus.IN_PROGRESS:
            return "\n".join(
                [
                    "ROUND0 screening in progress (screening_in_progress)",
                    f"Job: {update.job_title or 'unknown'}",
                    f"Started: {update.started_at or 'unknown'}",
                    f"Interview: {update.interview_url}",
                ]
            )
        case ScreeningStatus.COMPLETED:
            summary = update.summary or {}
            return "\n".join(
                [
                    "ROUND0 screening completed (screening_completed)",
                    f"Job: {update.job_title or 'unknown'}",
                    f"Completed: {update.completed_at or 'unknown'}",
                    f"Answers: {summary.get('response_count', 0)}, total answer time "
                    + _duration(int(summary.get("total_duration", 0))),
                    f"Interview: {update.interview_url}",
                    f"Summary: {update.summary_json()}",
                    "",
                    "Transcripts:",
                    "",
                    update.notes or "(no answers)",
                ]
            )


def truncate(text: str, max_chars: int, url: str) -> str:
    """`text` cut to at most `max_chars` characters, with a marker when anything is cut."""
    if len(text) <= max_chars:
        return text
    reserve = len(TRUNCATION_MARKER.format(missing=len(text), url=url))
    keep = max(max_chars - reserve, 0)
    marker = TRUNCATION_MARKER.format(missing=len(text) - keep, url=url)
    return text[:keep] + marker


PART_HEADER_START = "[ROUND0 screening notes, part "
NOTE_START = "ROUND0 screening "


def _part_header(number: int, total: int) -> str:
    return f"{PART_HEADER_START}{number} of {total}]\n"


def is_screening_note(text: str) -> bool:
    """A note this sync wrote: one whole (`ROUND0 screening ...`) or one part of several."""
    return text.startswith((NOTE_START, PART_HEADER_START))


def _cut(text: str, room: int) -> int:
    """Where to end a part of at most `room` characters: after a line break if one is near."""
    newline = text.rfind("\n", room // 2, room)
    return newline + 1 if newline >= 0 else room


def split_note(text: str, limit: NoteLimit, url: str) -> list[str]:
    """`text` as notes of at most `limit.max_chars` characters each, never more than
    `limit.max_parts` of them; numbered when there are several."""
    if len(text) <= limit.max_chars:
        return [text]
    room = limit.max_chars - len(_part_header(limit.max_parts, limit.max_parts))
    chunks: list[str] = []
    rest = text
    while rest and len(chunks) < limit.max_parts:
        end = len(rest) if len(rest) <= room else _cut(rest, room)
        chunks.append(rest[:end])
        rest = rest[end:]
    if rest:
        chunks[-1] = truncate(chunks[-1] + rest, room, url)
    return [_part_header(number, len(chunks)) + chunk for number, chunk in enumerate(chunks, 1)]


def write_screening[R: (int, str)](
    update: CandidateUpdate,
    records: Sequence[R],
    limit: NoteLimit,
    steps: StepLog,
    add_note: Callable[[R, str], dict[str, Any]],
    add_tag: Callable[[R], dict[str, Any]],
) -> int:
    """On each ATS record of the candidate: the screening note (in parts) and the tag,
    each step once per event. Returns how many note parts each record got."""
    notes = split_note(screening_note(update), limit, update.interview_url)
    for record in records:
        for number, body in enumerate(notes, start=1):
            steps.once(f"{record}:note-{number}", partial(add_note, record, body))
        steps.once(f"{record}:tag", partial(add_tag, record))
    return len(notes)
