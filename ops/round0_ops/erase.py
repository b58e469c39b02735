"""`round0-ops erase`: delete every copy of one candidate's data the stack holds.

Found through the candidate index (keyed hashes of the email and of ROUND0's candidate
id) and the interview items (their event ids and candidate keys), so nothing is scanned
and nothing personal is stored to find it. Deleted: the event bodies in the payload
bucket, the archived audio, transcripts and results, dead-letter messages of those
events, interview states and index entries. Every body of an event goes: the first and
any other body sent under its id, kept beside it (`events/<segment>/<sha256>.json`), and
one kept where bodies were before they were keyed by their hash. The event records
become tombstones that keep no personal data (the id, the envelope and where the body
was), so a redelivery of the same ROUND0 event is acknowledged as a duplicate and brings
nothing back.

Race-free: each interview is marked erased (`round0.erasures`) before anything is
deleted, and an archive run in flight checks that mark before each write and after its
last, deleting what it wrote. Re-runnable: a second run finds nothing by email, and by
interview id still finds what the archive bucket keeps under the interview's prefix.
An object S3 would not delete is reported, and the command exits 1.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from round0.attempts import Attempt, AttemptHistory, AttemptOutcome
from round0.candidate_index import CandidateIndex, IndexEntry
from round0.candidates import candidate_id_key, email_key
from round0.contract import legacy_payload_key, payload_prefix
from round0.erasures import ErasedInterviews
from round0.event_store import EventStore, segment_of
from round0.keys import is_content_id, key_segment
from round0.secrets import index_keys, secret_value
from round0.state_store import InterviewStates
from round0_archive.keys import interview_prefix
from round0_ats import lever
from round0_ats.credentials import lever_credentials
from round0_ats.transport import Transport
from round0_ops.dead_letters import DeadLetterQueue
from round0_ops.output import Printer, table
from round0_ops.stack import CONSUMERS, OpsError, Stack, explained

MAX_HOPS = 20  # bounds following a candidate across emails and interviews
LEVER_SECONDS = 300.0  # the time the Lever calls of one erasure may take, retries included
TOMBSTONE_SECONDS = 30 * 86_400  # for records that expired already (EventTtlDays' default)
# a history's last attempt, "erased", is kept as long as a consumer's (EventTtlDays' default)
ERASED_HISTORY_SECONDS = 30 * 86_400


def segments(event_id: str) -> list[str]:
    """The key segments an event id the index names may be kept under. An id that reads
    as a content id (`sha256:<hex>`) is a body kept by its hash, or an event ROUND0 sent
    with that very id (its segment encoded): an erasure deletes both rather than miss one."""
    found = [segment_of(event_id)]
    if is_content_id(event_id):
        found.append(key_segment(event_id))
    return found


class By(StrEnum):
    EMAIL = "email"
    CANDIDATE_ID = "candidate_id"
    INTERVIEW_ID = "interview_id"


@dataclass
class ErasurePlan:
    """What one erasure covers. `subject` names it without personal data."""

    by: By
    subject: str
    interview_ids: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    delete_keys: set[str] = field(default_factory=set)  # index entries to delete
    forget_keys: set[str] = field(default_factory=set)  # entries that keep other interviews

    @property
    def empty(self) -> bool:
        return not (self.interview_ids or self.event_ids or self.delete_keys)


type LookupIndex = Callable[[str], IndexEntry | None]
type LookupInterview = Callable[[str], tuple[set[str], set[str]] | None]


def plan_for_candidate(
    by: By,
    start_key: str,
    lookup_index: LookupIndex,
    lookup_interview: LookupInterview,
    also: tuple[str, ...] = (),
) -> ErasurePlan:
    """Everything filed under a candidate's key, following the keys their interviews carry
    (the same person under another email, or by candidate id). `also`: the same email or
    id under the previous index key, while a re-key has not finished. Pure, given the
    lookups."""
    plan = ErasurePlan(by, start_key)
    keys: list[str] = [start_key, *also]
    interviews: list[str] = []
    for _ in range(MAX_HOPS):
        if not keys and not interviews:
            break
        for key in keys:
            entry = lookup_index(key)
            if entry is None or key in plan.delete_keys:
                continue
            plan.delete_keys.add(key)
            plan.event_ids |= entry.event_ids
            interviews += [i for i in entry.interview_ids if i not in plan.interview_ids]
        keys = []
        for interview_id in interviews:
            plan.interview_ids.add(interview_id)
            known = lookup_interview(interview_id)
            if known is not None:
                event_ids, candidate_keys = known
                plan.event_ids |= event_ids
                keys += [key for key in candidate_keys if key not in plan.delete_keys]
        interviews = []
    return plan


def plan_for_interview(
    interview_id: str,
    lookup_interview: LookupInterview,
    archived: Callable[[str], bool] = lambda _: False,
) -> ErasurePlan:
    """One interview: its events, and its id taken out of the candidate's index entries.
    Unknown to the table (erased before, or expired), it is still erased while the
    archive keeps something under its prefix (`archived`)."""
    plan = ErasurePlan(By.INTERVIEW_ID, interview_id)
    known = lookup_interview(interview_id)
    if known is None:
        if archived(interview_id):
            plan.interview_ids.add(interview_id)
        return plan
    event_ids, candidate_keys = known
    plan.interview_ids.add(interview_id)
    plan.event_ids |= event_ids
    plan.forget_keys |= candidate_keys
    return plan


@dataclass
class Erased:
    """What an erasure deleted (or, dry, would delete), per store."""

    payloads: int = 0
    archive_objects: int = 0
    dead_letters: int = 0
    tombstones: int = 0
    interview_states: int = 0
    index_entries: int = 0
    erased_marks: int = 0
    ats_notes: int | None = None  # None: not asked (--ats-notes)
    failures: list[str] = field(default_factory=list)  # objects S3 would not delete

    def rows(self) -> list[tuple[str, int]]:
        rows = [
            ("events table: interviews marked erased (first)", self.erased_marks),
            ("payload bucket: event bodies", self.payloads),
            ("archive bucket: audio, transcripts, results", self.archive_objects),
            ("dead-letter queues: messages", self.dead_letters),
            ("events table: records made tombstones", self.tombstones),
            ("events table: interview states", self.interview_states),
            ("events table: candidate index entries", self.index_entries),
        ]
        if self.ats_notes is not None:
            rows.append(("ATS (Lever): screening notes", self.ats_notes))
        return rows


KEPT = [
    "idempotency marks: ids and statuses only, no personal data; they expire with their TTL",
    "erased#<interview> marks: the interview id only, so no archive run writes it again",
    "bus archive: references only (no personal data); a replay finds the payloads gone",
    "logs: ids only, never a name, email or transcript",
]


def outside(adapter: str, plan: ErasurePlan) -> list[str]:
    """What the stack sent elsewhere, where this command cannot delete it."""
    interviews = ", ".join(sorted(plan.interview_ids)) or "-"
    lines = [
        f"mailboxes: hiring-manager emails about interviews {interviews}"
        " (subject '<candidate> started/completed screening for <job>'): ask the recipients"
        " to delete them",
        f"Slack: messages in the hiring channel about interviews {interviews}: delete them in"
        " Slack (an incoming webhook cannot delete what it posted)",
    ]
    match adapter:
        case "webhook":
            lines.append(
                "ATS (webhook): the receiver got updateCandidate payloads (email, transcripts)"
                f" for events {', '.join(sorted(plan.event_ids)) or '-'}"
                " (X-Round0-Event-Id): delete them there"
            )
        case "greenhouse":
            lines.append(
                "ATS (Greenhouse): notes and tags 'ROUND0 screening ...' on the candidate;"
                " Greenhouse's API has no note deletion: anonymize the candidate in Greenhouse"
                " (Candidate profile > Anonymize) or delete the notes there"
            )
        case "lever":
            lines.append(
                "ATS (Lever): the tags 'ROUND0 screening ...' on the candidate's"
                " opportunities, and the notes unless --ats-notes deleted them here"
            )
        case _:
            pass
    return lines


class Erasure:
    """Carries out a plan against one stack's stores."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        dynamodb = stack.client("dynamodb")
        table_name = stack.output("EventsTableName")
        self.index = CandidateIndex(table_name, dynamodb)
        self.states = InterviewStates(table_name, dynamodb)
        self.events = EventStore(table_name, dynamodb)
        self.history = AttemptHistory(table_name, ERASED_HISTORY_SECONDS, dynamodb)
        self.erasures = ErasedInterviews(table_name, dynamodb)
        self._s3 = stack.client("s3")
        self._payloads = stack.output("PayloadBucketName")
        self._archive = stack.output("ArchiveBucketName")

    def index_keys(self) -> tuple[bytes, ...]:
        """The index key, and the previous one while a re-key has not finished."""
        keys = index_keys(self._stack.secret("CandidateIndexKeyArn"))
        if not keys:
            raise OpsError("the candidate index key secret is empty", "redeploy the stack")
        return keys

    def plan(self, by: By, value: str) -> ErasurePlan:
        if by is By.INTERVIEW_ID:
            return plan_for_interview(value, self.states.event_ids, self._archived)
        hashed = email_key if by is By.EMAIL else candidate_id_key
        start, *previous = [hashed(value, key) for key in self.index_keys()]
        return plan_for_candidate(
            by, start, self.index.lookup, self.states.event_ids, tuple(previous)
        )

    def _archived(self, interview_id: str) -> bool:
        listed = self._s3.list_objects_v2(
            Bucket=self._archive, Prefix=interview_prefix(interview_id), MaxKeys=1
        )
        return bool(listed.get("Contents"))

    def run(self, plan: ErasurePlan, dry_run: bool) -> Erased:
        erased = Erased()
        now = time.time()
        for interview_id in sorted(plan.interview_ids):  # first: an archive in flight stops
            if not dry_run:
                self.erasures.mark(interview_id, now, int(now) + TOMBSTONE_SECONDS)
            erased.erased_marks += 1
        erased.payloads = self._payload_objects(plan, dry_run, erased.failures)
        erased.archive_objects = self._archive_objects(plan, dry_run, erased.failures)
        erased.dead_letters = self._dead_letters(plan, dry_run)
        for event_id in sorted(plan.event_ids):
            if not dry_run:
                on_record = [segment for segment in segments(event_id) if self.events.get(segment)]
                for segment in on_record or [segment_of(event_id)]:
                    self.events.tombstone(segment, now, int(now) + TOMBSTONE_SECONDS)
            erased.tombstones += 1
        for interview_id in sorted(plan.interview_ids):
            if not dry_run:
                self.states.delete(interview_id)
            erased.interview_states += 1
        for key in sorted(plan.delete_keys):
            if not dry_run:
                self.index.delete(key)
            erased.index_entries += 1
        for key in sorted(plan.forget_keys - plan.delete_keys):
            if not dry_run:
                self.index.forget(key, plan.interview_ids, plan.event_ids)
        return erased

    def _payload_objects(self, plan: ErasurePlan, dry_run: bool, failures: list[str]) -> int:
        """Every body kept for the plan's events (a conflicting one beside the first, and
        one kept where bodies were before they were keyed by their hash)."""
        count = 0
        for event_id in sorted(plan.event_ids):
            keys = [
                key
                for segment in segments(event_id)
                for key in self._listed(self._payloads, payload_prefix(segment))
            ]
            legacy = legacy_payload_key(event_id)
            keys += [key for key in self._listed(self._payloads, legacy) if key == legacy]
            count += self._delete(self._payloads, keys, dry_run, failures)
        return count

    def _archive_objects(self, plan: ErasurePlan, dry_run: bool, failures: list[str]) -> int:
        count = 0
        for interview_id in sorted(plan.interview_ids):
            keys = self._listed(self._archive, interview_prefix(interview_id))
            count += self._delete(self._archive, keys, dry_run, failures)
        return count

    def _listed(self, bucket: str, prefix: str) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def _delete(self, bucket: str, keys: list[str], dry_run: bool, failures: list[str]) -> int:
        """Delete `keys`; how many were deleted (dry: would be). Each object S3 refused
        is added to `failures` (s3://bucket/key: code), and not counted."""
        refused = 0
        for start in range(0, 0 if dry_run else len(keys), 1000):
            batch = keys[start : start + 1000]
            answer = self._s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
            for error in answer.get("Errors", []):
                refused += 1
                failures.append(
                    f"s3://{bucket}/{error.get('Key', '?')}: {error.get('Code', '?')}"
                    f" {error.get('Message', '')}".rstrip()
                )
        return len(keys) - refused

    def _dead_letters(self, plan: ErasurePlan, dry_run: bool) -> int:
        count = 0
        sqs = self._stack.client("sqs")
        for consumer in CONSUMERS.values():
            queue = DeadLetterQueue(consumer.name, self._stack.output(consumer.queue_output), sqs)
            with queue.held() as letters:
                for letter in letters:
                    if letter.event_id in plan.event_ids:
                        count += 1
                        if not dry_run:
                            queue.delete(letter)
                            # the event's story says so, and it leaves the dead-lettered index
                            self.history.append(
                                letter.event_id,
                                consumer.service,
                                Attempt(AttemptOutcome.SKIPPED, "erased", 0, "round0-ops erase"),
                            )
        return count

    def lever_notes(self, email: str, dry_run: bool) -> int:
        """The screening notes the sync wrote in Lever, deleted through Lever's API."""
        with explained("deleting the notes in Lever"):
            secret = secret_value(
                self._stack.output("LeverApiSecretArn"),
                max_age=60,
                client=self._stack.client("secretsmanager"),
            )
            ats = lever.LeverAts(
                lever_credentials(secret),
                Transport("lever"),
                api_base=self._stack.outputs.get("AtsApiBaseUrl") or lever.API_BASE,
            )
            return ats.erase_notes(email, time_left=lambda: LEVER_SECONDS, dry_run=dry_run)

    def audit(self, plan: ErasurePlan, erased: Erased) -> dict[str, Any]:
        """One line in the stack's erasure audit log: who, when, whom (a keyed hash or
        an interview id, never the email), and what was deleted."""
        with explained("writing the audit line"):
            operator = self._stack.client("sts").get_caller_identity().get("Arn", "unknown")
            line = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "action": "erase",
                "operator": operator,
                "by": plan.by.value,
                "subject": plan.subject,
                "interviews": len(plan.interview_ids),
                "events": len(plan.event_ids),
                "deleted": dict(erased.rows()),
                "not_deleted": len(erased.failures),
            }
            logs = self._stack.client("logs")
            group = self._stack.output("AuditLogGroupName")
            stream = "erasures"
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(line)}],
            )
        return line


def run(
    stack: Stack,
    printer: Printer,
    by: By,
    value: str,
    dry_run: bool,
    confirmed: bool,
    ask: Callable[[str], bool],
    ats_notes: bool = False,
) -> int:
    if ats_notes and (by is not By.EMAIL or stack.output("AtsAdapter") != "lever"):
        raise OpsError(
            "--ats-notes deletes notes through Lever's API, found by email",
            "use it with --email on a stack whose AtsAdapter is lever; for other ATSs"
            " see what the erasure lists to delete by hand",
        )
    erasure = Erasure(stack)
    with explained("finding the candidate's data"):
        plan = erasure.plan(by, value)
    describe = {
        By.EMAIL: "the candidate with that email",
        By.CANDIDATE_ID: "the candidate with that ROUND0 candidate id",
        By.INTERVIEW_ID: f"interview {value}",
    }[by]
    if plan.empty and not ats_notes:
        printer.text(f"nothing on record for {describe}: nothing to erase")
        printer.document({"subject": plan.subject, "found": False, "deleted": {}})
        return 0
    summary = f"{len(plan.interview_ids)} interview(s), {len(plan.event_ids)} event(s)"
    if not dry_run and not confirmed and not ask(f"Erase {describe}: {summary}?"):
        printer.text("not erased")
        return 2
    with explained("erasing"):
        erased = erasure.run(plan, dry_run)
    if ats_notes:
        erased.ats_notes = erasure.lever_notes(value, dry_run)
    audit = None if dry_run else erasure.audit(plan, erased)
    verb = "would delete" if dry_run else "deleted"
    by_hand = outside(stack.output("AtsAdapter"), plan)
    failed = "".join(f"  - {failure}\n" for failure in erased.failures)
    printer.text(
        f"{'dry run: ' if dry_run else ''}erasure of {describe} ({plan.subject}): {summary}\n"
        + table(["store", verb], erased.rows())
        + (
            f"NOT deleted ({len(erased.failures)}): run the erasure again; if it fails"
            f" again, check the bucket's policy and object lock\n{failed}"
            if erased.failures
            else ""
        )
        + "".join(f"kept: {line}\n" for line in KEPT)
        + "\noutside this stack, delete by hand:\n"
        + "".join(f"  - {line}\n" for line in by_hand)
    )
    printer.document(
        {
            "subject": plan.subject,
            "found": True,
            "dry_run": dry_run,
            "interview_ids": sorted(plan.interview_ids),
            "event_ids": sorted(plan.event_ids),
            verb.replace(" ", "_"): dict(erased.rows()),
            "kept": KEPT,
            "outside": by_hand,
            "audit": audit,
            "failures": erased.failures,
        }
    )
    return 1 if erased.failures else 0
