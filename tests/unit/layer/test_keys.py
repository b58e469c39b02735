"""round0.keys: any id from outside becomes one safe, distinct storage key segment."""

import hashlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from round0.keys import (
    CONTENT_ID_PREFIX,
    HASHED_PREFIX,
    MAX_SEGMENT_CHARS,
    content_id,
    is_content_id,
    key_segment,
)

# derandomized and without an example database: the same examples every run
PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)
# any string Python can hold, lone surrogates (JSON's "\ud800") included
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
SEGMENT_CHARS = frozenset(string.ascii_letters + string.digits + "-_.~%")


@pytest.mark.parametrize(
    "event_id",
    [
        "evt_550e8400e29b41d4a716446655440000",
        "660f9511-f30c-52e5-b827-557766551111",
        "test-interview-id",
        "evt_test_123",
        "a.b~c",
    ],
)
def test_the_ids_round0_sends_are_kept_as_they_are(event_id: str) -> None:
    # Given an id of the shape ROUND0 documents, When it becomes a segment, Then it is unchanged
    # (so keys written before the encoding existed still match)
    assert key_segment(event_id) == event_id


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("../etc/passwd", "..%2Fetc%2Fpasswd"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("...", "%2E%2E%2E"),
        ("a b", "a%20b"),
        ("100%", "100%25"),
        ("x=y", "x%3Dy"),
        ("sha256:ab", "sha256%3Aab"),
        ("é", "%C3%A9"),
        ("\n", "%0A"),
        ("\ud800", "%ED%A0%80"),  # a lone surrogate, as its own bytes
    ],
)
def test_separators_dots_and_other_characters_are_encoded(value: str, segment: str) -> None:
    assert key_segment(value) == segment


def test_an_id_whose_encoding_is_too_long_is_replaced_by_its_hash() -> None:
    # Given ids just within and just past the limit once encoded
    within, past = "i" * MAX_SEGMENT_CHARS, "i" * (MAX_SEGMENT_CHARS + 1)
    slash_heavy = "/" * 67  # 201 characters once encoded
    # Then the first stays itself, the others become "=" and their SHA-256
    assert key_segment(within) == within
    assert key_segment(past) == HASHED_PREFIX + hashlib.sha256(past.encode()).hexdigest()
    assert key_segment(slash_heavy) == "=" + hashlib.sha256(slash_heavy.encode()).hexdigest()


def test_the_empty_id_has_a_segment_too() -> None:
    assert key_segment("") == HASHED_PREFIX + hashlib.sha256(b"").hexdigest()


def test_a_body_with_no_usable_id_is_known_by_its_content_hash() -> None:
    digest = hashlib.sha256(b"not json").hexdigest()
    assert content_id(digest) == CONTENT_ID_PREFIX + digest
    assert is_content_id(content_id(digest))
    assert not is_content_id("sha256:" + "A" * 64)  # upper-case hex is not one we made
    assert not is_content_id("sha256:" + "0" * 63)
    assert not is_content_id("evt_1")
    # an id that looks like a content id is encoded: it can never take a body's place
    assert not is_content_id(key_segment(content_id(digest)))


@PROPERTY
@given(ANY_TEXT)
def test_any_id_becomes_one_safe_bounded_segment(value: str) -> None:
    segment = key_segment(value)
    assert segment  # never empty
    assert "/" not in segment
    assert segment not in {".", ".."}
    assert len(segment) <= MAX_SEGMENT_CHARS
    assert set(segment) <= SEGMENT_CHARS | {HASHED_PREFIX}
    assert HASHED_PREFIX not in segment[1:]
    assert not is_content_id(segment)
    assert key_segment(value) == segment  # deterministic


@PROPERTY
@given(ANY_TEXT, ANY_TEXT)
def test_two_different_ids_never_share_a_segment(first: str, second: str) -> None:
    if first == second:
        assert key_segment(first) == key_segment(second)
    else:
        assert key_segment(first) != key_segment(second)


@PROPERTY
@given(st.text(alphabet=st.sampled_from("./%=a"), max_size=250))
def test_ids_made_of_the_tricky_characters_stay_distinct(value: str) -> None:
    # dots, separators and the characters the encoding itself uses, at every length
    other = value + "."
    assert key_segment(value) != key_segment(other)
    assert key_segment(value) not in {".", ".."}
    assert len(key_segment(value)) <= MAX_SEGMENT_CHARS
