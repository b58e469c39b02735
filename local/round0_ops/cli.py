"""`round0-ops`: see and fix what failed in a round0-webhooks stack, erase a candidate.

  status         one screen: dead letters, pending events, alarms, the newest published
                 event, and what is not configured yet (exit 1 when something needs you)
  dead-letters   a line per dead-lettered event: id, type, consumer, reason, attempts, age
  redrive        hand dead-lettered events to their consumer again (safe to repeat)
  republish      put stored events on the bus again (consumers skip what they did)
  replay         replay the bus archive to chosen consumers, followed to its end
  pending        events stored but not yet published, and quarantined ones; --publish
                 runs the sweeper now, --requeue gives a quarantined one back to it
  erase          delete every copy of one candidate's data the stack holds
  index-key      rotate the candidate index's key, then re-file the index under it

The stack is found by name (--stack, else samconfig.toml's) through CloudFormation;
credentials, region and endpoint are boto3's (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL),
so the same commands work against `round0-local serve` (stack `round0-local`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from round0_ops import erase, index_key, recovery, status
from round0_ops.output import Printer
from round0_ops.stack import CONSUMERS, OpsError, Stack, default_stack_name


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="round0-ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", help="the stack's name (default: samconfig.toml's)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    commands = parser.add_subparsers(dest="command", required=True)
    consumer_names = sorted(CONSUMERS)

    commands.add_parser("status", help="what needs attention (exit 1 if anything does)")

    letters = commands.add_parser("dead-letters", help="list dead-lettered events")
    letters.add_argument("--consumer", action="append", choices=consumer_names)

    redrive = commands.add_parser("redrive", help="hand dead-lettered events to their consumer")
    redrive.add_argument("--consumer", action="append", choices=consumer_names)
    redrive.add_argument("--event-id", action="append", default=[], dest="event_ids")
    redrive.add_argument("--reason", help="only those whose reason starts with this")
    redrive.add_argument("--dry-run", action="store_true")

    republish = commands.add_parser("republish", help="put stored events on the bus again")
    republish.add_argument("event_ids", nargs="+", metavar="EVENT_ID")

    replay = commands.add_parser("replay", help="replay the bus archive to chosen consumers")
    replay.add_argument("--from", dest="start", type=_when, required=True, metavar="TIME")
    replay.add_argument("--to", dest="end", type=_when, required=True, metavar="TIME")
    replay.add_argument("--consumer", action="append", choices=consumer_names)

    pending = commands.add_parser("pending", help="events stored but not yet published")
    pending.add_argument("--publish", action="store_true", help="run the sweeper now")
    pending.add_argument(
        "--requeue",
        action="append",
        default=[],
        metavar="EVENT_ID",
        help="give a quarantined event back to the sweeper (once its cause is fixed)",
    )

    eraser = commands.add_parser("erase", help="delete every copy of one candidate's data")
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


def _dispatch(  # noqa: PLR0911 - one return per command
    arguments: argparse.Namespace, stack: Stack, printer: Printer
) -> int:
    match arguments.command:
        case "status":
            return status.run(stack, printer)
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
        stack = Stack.find(arguments.stack or default_stack_name())
        return _dispatch(arguments, stack, printer)
    except OpsError as error:
        sys.stderr.write(f"round0-ops: {error.message}\n")
        if error.fix:
            sys.stderr.write(f"  fix: {error.fix}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
