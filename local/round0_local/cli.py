"""`round0-local`: the project's development command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from round0_local.api_events import write_sample_api_events
from round0_local.bus_events import write_sample_bus_events


def _sign_events(_: argparse.Namespace) -> int:
    for path in write_sample_api_events():
        print(f"signed {path}")
    for path in write_sample_bus_events():
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="round0-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sign_events = commands.add_parser(
        "sign-events",
        help="re-sign events/api/*.json with a fresh timestamp (signatures go stale in 5 min)"
        " and rewrite events/bus/*.json from events/payloads",
    )
    sign_events.set_defaults(run=_sign_events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    result: int = arguments.run(arguments)
    return result
