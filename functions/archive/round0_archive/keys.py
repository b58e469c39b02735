"""Where an interview lives in the archive bucket, and which ids may become keys.

The layout is the seed's: `interviews/<interview id>/question_<question id>.mp3`, next
to `transcript.json` and `transcript.md`. Ids are opaque strings from ROUND0; one that
could leave its folder or hide in a listing (`/`, `\\`, `..`, control or format
characters) is refused before it gets near a key.
"""

import unicodedata

MAX_ID_LENGTH = 200
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


class UnsafeId(ValueError):
    """An id that must not become part of an S3 key. The message never repeats it."""


def check_id(value: str, what: str) -> str:
    """Return `value` if it is safe as one key segment, else raise UnsafeId."""
    if not value or value in {".", ".."}:
        raise UnsafeId(f"{what} is empty or a dot segment")
    if len(value) > MAX_ID_LENGTH:
        raise UnsafeId(f"{what} is longer than {MAX_ID_LENGTH} characters")
    if "/" in value or "\\" in value:
        raise UnsafeId(f"{what} contains a path separator")
    if ".." in value:
        raise UnsafeId(f"{what} contains '..'")
    if any(unicodedata.category(char) in _HIDDEN_CATEGORIES for char in value):
        raise UnsafeId(f"{what} contains a control character")
    return value


def interview_prefix(interview_id: str) -> str:
    return f"interviews/{check_id(interview_id, 'interview id')}/"


def audio_key(interview_id: str, question_id: str) -> str:
    return f"{interview_prefix(interview_id)}question_{check_id(question_id, 'question id')}.mp3"


def transcript_json_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.json"


def transcript_markdown_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.md"
