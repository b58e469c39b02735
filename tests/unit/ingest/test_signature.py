"""ROUND0's signature scheme against the published vectors and our own edge cases."""

import json
from pathlib import Path
from typing import Any

import pytest

from round0.signature import (
    SignatureError,
    sign,
    verify_signature,
)

REPO = Path(__file__).resolve().parents[3]
# The vectors ROUND0's contract publishes (../shared beside the checkout, when there)
# and the copy committed with the tests, so a checkout alone still runs them.
VECTOR_FILES = [
    path
    for path in (
        REPO.parent / "shared" / "vectors" / "signatures.json",
        REPO / "tests" / "fixtures" / "signatures.json",
    )
    if path.is_file()
]
VECTOR_SETS = [json.loads(path.read_text(encoding="utf-8")) for path in VECTOR_FILES]
CASES = [(vectors["body"], case) for vectors in VECTOR_SETS for case in vectors["cases"]]


def test_the_committed_vectors_are_there() -> None:
    assert REPO / "tests" / "fixtures" / "signatures.json" in VECTOR_FILES
    assert len(CASES) >= 17


@pytest.mark.parametrize(("raw_body", "case"), CASES, ids=[case["name"] for _, case in CASES])
def test_every_published_vector(raw_body: str, case: dict[str, Any]) -> None:
    body = raw_body.encode("utf-8")
    if case["valid"]:
        assert verify_signature(case["header"], body, case["secrets"], case["now"]) > 0
    else:
        with pytest.raises(SignatureError):
            verify_signature(case["header"], body, case["secrets"], case["now"])


def test_sign_then_verify_round_trips_on_raw_bytes() -> None:
    body = '{"id":"evt_1","name":"Zoë"}'.encode()
    header = sign(body, "whsec_x", 1_700_000_000)
    assert verify_signature(header, body, ["whsec_x"], 1_700_000_000) == 1_700_000_000


def test_a_reencoded_body_does_not_verify() -> None:
    # Given a body signed as sent, when the receiver re-serialises it, the bytes differ
    body = b'{"a": 1}'
    header = sign(body, "whsec_x", 1_700_000_000)
    with pytest.raises(SignatureError) as caught:
        verify_signature(header, b'{"a":1}', ["whsec_x"], 1_700_000_000)
    assert caught.value.reason == "mismatch"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("t=1700000000", "malformed"),
        ("v1=abc", "malformed"),
        ("t=-5,v1=abc", "malformed"),
        ("t=１７００,v1=abc", "malformed"),  # non-ASCII digits
        ("t=1600000000,v1=abc", "stale"),
        ("t=1700000000,v1=ünïcödé", "mismatch"),
        # a timestamp too long to be unix seconds: malformed, never an overflow (a 500)
        ("t=" + "9" * 13 + ",v1=abc", "malformed"),
        ("t=" + "1" * 40 + ",v1=abc", "malformed"),
        ("t=" + "1" * 400 + ",v1=abc", "malformed"),
        ("t=" + "1" * 5000 + ",v1=abc", "malformed"),
        ("t=" + "0" * 12 + "1700000000,v1=abc", "malformed"),
        ("t=000001700000000,v1=abc", "malformed"),
    ],
)
def test_rejections_carry_a_loggable_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(header, b"{}", ["whsec_x"], 1_700_000_000)
    assert caught.value.reason == reason
