"""`round0-ops`: see and fix what failed in a round0-webhooks stack, erase a candidate.

  status         one screen: dead letters, pending events, alarms, the newest published
                 event, and what is not configured yet (exit 1 when something needs you);
                 it never receives a message
  event          one event's whole story: arrivals, stored, published, and per consumer
                 done, skipped, retrying or dead-lettered, with every attempt
  dead-letters   a line per dead-lettered event: id, type, consumer, reason, attempts, age
  redrive        hand dead-lettered events to their consumer again (safe to repeat)
  republish      put stored events on the bus again (consumers skip what they did)
  replay         replay the bus archive to chosen consumers, followed to its end
  pending        events stored but not yet published, and quarantined ones; --publish
                 runs the sweeper now, --requeue gives a quarantined one back to it
  erase          delete every copy of one candidate's data the stack holds
  index-key      rotate the candidate index's key, then re-file the index under it

The stack is found by name (--stack, else samconfig.toml's) through CloudFormation;
credentials, region and endpoint are boto3's (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
or --profile, --region, --endpoint-url), so the same commands work against
`round0-local serve` (stack `round0-local`). Global options (--json, --stack, --region,
--profile, --endpoint-url) go before or after the command. Times in --json are ISO 8601.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from round0_ops import erase, index_key, recovery, status, story
from round0_ops.output import Printer
from round0_ops.stack import CONSUMERS, OpsError, Stack, default_stack_name, explained


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use ISO 8601, e.g. 2026-11-27T14:00:00Z"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ask(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}


def _global_options(parser: argparse.ArgumentParser, *, in_command: bool) -> None:
    """The options every command takes, before or after its name. A command's copy has no
    defaults, so it sets only what was given after the command's name."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if in_command else value

    parser.add_argument(
        "--stack", default=default(None), help="the stack's name (default: samconfig.toml's)"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="one JSON document on stdout"
    )
    parser.add_argument("--region", default=default(None), help="AWS region (else boto3's)")
    parser.add_argument("--profile", default=default(None), help="AWS profile (else boto3's)")
    parser.add_argument(
        "--endpoint-url", default=default(None), help="AWS endpoint (else AWS_ENDPOINT_URL)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="round0-ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _global_options(parser, in_command=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, in_command=True)
    commands = parser.add_subparsers(dest="command", required=True)
    consumer_names = sorted(CONSUMERS)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], **kwargs)

    command("status", help="what needs attention (exit 1 if anything does)")

    event = command("event", help="one event's whole story (exit 1 if not on record)")
    event.add_argument("event_id", nargs="?", metavar="EVENT_ID")
    event.add_argument("--interview-id", help="the story of every event of this interview")

    letters = command("dead-letters", help="list dead-lettered events")
    letters.add_argument("--consumer", action="append", choices=consumer_names)

    redrive = command("redrive", help="hand dead-lettered events to their consumer")
    redrive.add_argument("--consumer", action="append", choices=consumer_names)
    redrive.add_argument("--event-id", action="append", default=[], dest="event_ids")
    redrive.add_argument("--reason", help="only those whose reason starts with this")
    redrive.add_argument("--dry-run", action="store_true")
    redrive.add_argument(
        "--wait",
        type=float,
        default=recovery.REDRIVE_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for each event's outcome (0: do not wait)",
    )

    republish = command("republish", help="put stored events on the bus again")
    republish.add_argument("event_ids", nargs="+", metavar="EVENT_ID")

    replay = command("replay", help="replay the bus archive to chosen consumers")
    replay.add_argument("--from", dest="start", type=_when, required=True, metavar="TIME")
    replay.add_argument("--to", dest="end", type=_when, required=True, metavar="TIME")
    replay.add_argument("--consumer", action="append", choices=consumer_names)

    pending = command("pending", help="events stored but not yet published")
    pending.add_argument("--publish", action="store_true", help="run the sweeper now")
    pending.add_argument(
        "--requeue",
        action="append",
        default=[],
        metavar="EVENT_ID",
        help="give a quarantined event back to the sweeper (once its cause is fixed)",
    )

    eraser = command("erase", help="delete every copy of one candidate's data")
    whom = eraser.add_mutually_exclusive_group(required=True)
    whom.add_argument("--email")
    whom.add_argument("--candidate-id")
    whom.add_argument("--interview-id")
    eraser.add_argument("--dry-run", action="store_true", help="say what would be deleted")
    eraser.add_argument("--yes", action="store_true", help="do not ask (needed off a terminal)")
    eraser.add_argument(
        "--ats-notes",
        action="store_true",
        help="also delete the screening notes in the ATS (Lever, whose API allows it)",
    )
    keys = commands.add_parser("index-key", help="rotate the candidate index's key, re-key")
    keys.add_argument(
        "action",
        choices=["rotate", "rekey"],
        help="rotate: a new key, the old kept as previous; rekey: re-file the index under it",
    )
    return parser


def _dispatch(  # noqa: PLR0911, PLR0912 - one return per command
    arguments: argparse.Namespace, stack: Stack, printer: Printer
) -> int:
    match arguments.command:
        case "status":
            return status.run(stack, printer)
        case "event":
            if (arguments.event_id is None) == (arguments.interview_id is None):
                raise OpsError("name one event (EVENT_ID) or one --interview-id")
            return story.run(stack, printer, arguments.event_id, arguments.interview_id)
        case "dead-letters":
            return recovery.list_dead_letters(stack, printer, arguments.consumer)
        case "redrive":
            return recovery.redrive(
                stack,
                printer,
                arguments.consumer,
                arguments.event_ids,
                arguments.reason,
                arguments.dry_run,
                arguments.wait,
            )
        case "republish":
            return recovery.republish(stack, printer, arguments.event_ids)
        case "replay":
            if arguments.end <= arguments.start:
                raise OpsError("--to must be after --from")
            return recovery.replay(
                stack, printer, arguments.start, arguments.end, arguments.consumer
            )
        case "pending":
            return recovery.pending(stack, printer, arguments.publish, arguments.requeue)
        case "erase":
            by, value = next(
                (by, value)
                for by, value in (
                    (erase.By.EMAIL, arguments.email),
                    (erase.By.CANDIDATE_ID, arguments.candidate_id),
                    (erase.By.INTERVIEW_ID, arguments.interview_id),
                )
                if value is not None
            )
            if not (arguments.yes or arguments.dry_run or sys.stdin.isatty()):
                raise OpsError(
                    "refusing to erase without --yes when not on a terminal",
                    "run it again with --yes (or --dry-run first)",
                )
            return erase.run(
                stack,
                printer,
                by,
                value,
                arguments.dry_run,
                arguments.yes,
                ask=_ask,
                ats_notes=arguments.ats_notes,
            )
        case "index-key":
            if arguments.action == "rotate":
                return index_key.rotate(stack, printer)
            return index_key.rekey(stack, printer)
    raise OpsError(f"unknown command {arguments.command}")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    printer = Printer(as_json=arguments.json)
    try:
        with explained("opening an AWS session"):
            session = boto3.Session(profile_name=arguments.profile, region_name=arguments.region)
        stack = Stack.find(arguments.stack or default_stack_name(), session, arguments.endpoint_url)
        return _dispatch(arguments, stack, printer)
    except OpsError as error:
        sys.stderr.write(f"round0-ops: {error.message}\n")
        if error.fix:
            sys.stderr.write(f"  fix: {error.fix}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
