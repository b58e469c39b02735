"""Where an interview lives in the archive bucket.

The layout is the seed's: `interviews/<interview id>/question_<question id>.mp3`, next to
`transcript.json` and `transcript.md`. Ids are opaque strings from ROUND0, and an id is
never a reason not to archive: each becomes one key segment with the layer's encoding
(`round0.keys.key_segment`: `/`, `..`, control characters and the like are
percent-encoded, an over-long id hashed), which leaves ROUND0's usual ids as they are.
An answer without a question id is kept by its position: `answer_<n>.mp3`.
"""

from round0.keys import key_segment


def interview_prefix(interview_id: str) -> str:
    return f"interviews/{key_segment(interview_id)}/"


def audio_key(interview_id: str, question_id: str | None, number: int) -> str:
    name = f"question_{key_segment(question_id)}" if question_id else f"answer_{number}"
    return f"{interview_prefix(interview_id)}{name}.mp3"


def transcript_json_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.json"


def transcript_markdown_key(interview_id: str) -> str:
    return f"{interview_prefix(interview_id)}transcript.md"
