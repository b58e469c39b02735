"""Notes kept under an ATS's size limit: split, numbered, truncated visibly (pure)."""

from __future__ import annotations

import pytest

from round0_ats.notes import NoteLimit, split_note, truncate

URL = "https://rz-app-omega.vercel.app/interviews/i-1"


def body(part: str) -> str:
    """A part without its `[ROUND0 screening notes, part i of n]` line."""
    return part.split("\n", 1)[1]


def test_a_note_within_the_limit_is_left_alone() -> None:
    assert split_note("short note", NoteLimit(max_chars=100), URL) == ["short note"]


@pytest.mark.parametrize("length", [101, 250, 999, 1_000])
def test_a_long_note_is_split_into_numbered_parts_that_keep_every_character(length: int) -> None:
    text = "".join(chr(ord("a") + n % 26) for n in range(length))

    parts = split_note(text, NoteLimit(max_chars=100, max_parts=20), URL)

    assert len(parts) > 1
    assert all(len(part) <= 100 for part in parts)
    assert [part.splitlines()[0] for part in parts] == [
        f"[ROUND0 screening notes, part {n} of {len(parts)}]" for n in range(1, len(parts) + 1)
    ]
    assert "".join(body(part) for part in parts) == text


def test_parts_end_at_a_line_break_when_one_is_near() -> None:
    text = "\n".join(f"line {n:03d} " + "x" * 20 for n in range(20))

    parts = split_note(text, NoteLimit(max_chars=120, max_parts=20), URL)

    assert all(body(part).endswith("\n") for part in parts[:-1])
    assert "".join(body(part) for part in parts) == text


def test_past_the_last_part_the_rest_is_truncated_with_a_marker() -> None:
    text = "#" * 10_000

    parts = split_note(text, NoteLimit(max_chars=200, max_parts=3), URL)

    assert len(parts) == 3
    assert all(len(part) <= 200 for part in parts)
    kept = "".join(body(part) for part in parts)
    marker = kept[kept.index("\n[ROUND0: ") :]
    missing = int(marker.split()[1])
    assert kept.count("#") + missing == len(text)
    assert marker.endswith(f"full transcripts: {URL}]")


def test_truncate_keeps_short_text_and_marks_cut_text() -> None:
    assert truncate("abc", 10, URL) == "abc"
    cut = truncate("~" * 1_000, 200, URL)
    assert len(cut) <= 200
    assert cut.startswith("~")
    assert cut.endswith(f"full transcripts: {URL}]")
    assert int(cut.split("[ROUND0: ")[1].split()[0]) == 1_000 - cut.count("~")
