"""round0-ops' command line: global options before or after the command (no AWS)."""

from __future__ import annotations

import pytest

from round0_ops.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--stack", "s", "--region", "eu-west-1", "status"],
        ["status", "--json", "--stack", "s", "--region", "eu-west-1"],
        ["--json", "status", "--stack", "s", "--region", "eu-west-1"],
    ],
)
def test_global_options_go_before_or_after_the_command(argv: list[str]) -> None:
    parsed = build_parser().parse_args(argv)
    assert (parsed.command, parsed.json, parsed.stack, parsed.region) == (
        "status",
        True,
        "s",
        "eu-west-1",
    )


def test_a_global_option_not_given_keeps_its_default() -> None:
    parsed = build_parser().parse_args(["event", "evt_1"])
    assert (parsed.json, parsed.stack, parsed.endpoint_url, parsed.event_id) == (
        False,
        None,
        None,
        "evt_1",
    )


def test_redrive_waits_for_outcomes_unless_told_not_to() -> None:
    parser = build_parser()
    assert parser.parse_args(["redrive"]).wait == 60.0
    assert parser.parse_args(["redrive", "--wait", "0", "--json"]).wait == 0.0
