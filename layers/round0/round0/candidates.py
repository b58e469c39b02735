"""Where a candidate's data is: the keys of the candidate index. Pure: no I/O.

A candidate is found by a keyed hash (HMAC-SHA256 with the stack's index key) of their
lower-cased email, and of ROUND0's candidate id: the index never holds the email or
the id itself, and without the key a hash cannot be matched to a guessed email.
"""

import hashlib
import hmac

from round0.reading import Facts

CANDIDATE_KEY_PREFIX = "candidate#"


def _keyed_hash(kind: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{CANDIDATE_KEY_PREFIX}{kind}:{digest}"


def email_key(email: str, key: bytes) -> str:
    """The index key of an email address (trimmed and lower-cased first)."""
    return _keyed_hash("email", email.strip().lower(), key)


def candidate_id_key(candidate_id: str, key: bytes) -> str:
    """The index key of ROUND0's candidate id."""
    return _keyed_hash("id", candidate_id, key)


def candidate_keys(facts: Facts, key: bytes) -> tuple[str, ...]:
    """The index keys an event is filed under: its candidate's id and email, whatever the
    event's type; none when it names neither."""
    keys = []
    if facts.candidate_id is not None:
        keys.append(candidate_id_key(facts.candidate_id, key))
    if facts.candidate_email is not None:
        keys.append(email_key(facts.candidate_email, key))
    return tuple(keys)
