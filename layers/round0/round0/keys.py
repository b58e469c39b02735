"""Storage keys made from ids that come from outside (ROUND0's event, interview and question
ids). Pure: no I/O.

An id is never a reason to refuse an event, so every id becomes a key segment that every
store takes whatever the id holds (`/`, `..`, `%`, unicode, a lone surrogate, any length):

- characters other than ASCII letters, digits and `-_.~` are percent-encoded (UTF-8, a
  lone surrogate as its own bytes), so a segment never holds a separator, a control
  character or anything a tool could read as a path;
- a segment of dots only (`.`, `..`) has its dots encoded too;
- an encoding longer than `MAX_SEGMENT_CHARS` is replaced by `=` and the SHA-256 of the id:
  `=` is always encoded otherwise, so the two forms cannot meet.

The encoding is injective (two ids never share a segment) and leaves the ids ROUND0
sends (`evt_550e8400...`, `660f9511-f30c-...`, `test-interview-id`) as they are, so keys
written before it existed still match.
"""

import hashlib
from urllib.parse import quote

# S3 keys hold 1,024 bytes and DynamoDB keys 2,048: a few segments and a prefix fit
MAX_SEGMENT_CHARS = 200
HASHED_PREFIX = "="


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def key_segment(value: str) -> str:
    """`value` as one segment of a storage key (see the module's docstring)."""
    encoded = quote(_utf8(value), safe="-_.~")
    if encoded and encoded.strip(".") == "":
        encoded = encoded.replace(".", "%2E")
    if not encoded or len(encoded) > MAX_SEGMENT_CHARS:
        return HASHED_PREFIX + hashlib.sha256(_utf8(value)).hexdigest()
    return encoded


# A body with no usable id is kept under its content hash: `:` is always encoded in a
# segment made from an id, so this one cannot be an id's.
CONTENT_ID_PREFIX = "sha256:"


def content_id(sha256: str) -> str:
    """The id (and key segment) of a body with no usable id: its SHA-256."""
    return CONTENT_ID_PREFIX + sha256


def is_content_id(value: str) -> bool:
    digest = value.removeprefix(CONTENT_ID_PREFIX)
    return (
        value.startswith(CONTENT_ID_PREFIX)
        and len(digest) == 64
        and all(char in "0123456789abcdef" for char in digest)
    )
