"""Where an interview lives in the archive bucket, and which ids may become keys.

The layout is the seed's: `interviews/<interview id>/question_<question id>.mp3`, next
to `transcript.json` and `transcript.md`. Ids are opaque strings from ROUND0; one that
could leave its folder or hide in a listing (`/`, `\\`, `..`, control or format
characters, more than 255 bytes) is refused before it gets near a key. The rule is the
one the event model applies at the door (`round0.events.key_segment_problem`), so an
event the ingest path accepted is never refused here.
"""

from round0.events import key_segment_problem


class UnsafeId(ValueError):
    """An id that must not become part of an S3 key. The message never repeats it."""


def check_id(value: str, what: str) -> str:
    """Return `value` if it is safe as one key segment, else raise UnsafeId."""
    problem = key_segment_problem(value)
    if problem is not None:
        raise UnsafeId(f"{what} {problem}")
    return value


def interview_prefix(interview_id: str) -> str:
    return f"interviews/{check_id(interview_id, 'interview id')}/"


def audio_key(interview_id: str, question_id: str) -> str:
    return f"{interview_prefix(interview_id)}question_{check_id(question_id, 'question id')}.mp3"


def transcript_json_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.json"


def transcript_markdown_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.md"
