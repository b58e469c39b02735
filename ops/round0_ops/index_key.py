"""`round0-ops index-key rotate | rekey`: a new key for the candidate index.

The index files every candidate under keyed hashes (HMAC-SHA256 with the stack's index
key) of their email and ROUND0 candidate id. A hash cannot be turned into another
key's hash without the email, so a rotation has two steps, and erasures look a
candidate up under both keys until the second is done:

1. `rotate` puts a new key in the secret, the old one beside it as `previous`
   (`{"key": new, "previous": old, "rotated_at": ...}`). Ingest files new events under
   the new key once its cached copy expires (an hour at most); `round0-ops erase`
   searches under both.
2. `rekey` re-files each index entry under the new key, reading the emails and ids
   again from the event bodies the payload bucket keeps, and deletes the old entry.
   An entry whose bodies are gone (past PayloadRetentionDays) cannot be re-filed: it
   keeps needing the previous key until it expires, and `rekey` says until when. Once
   no such entry is left and the rotation is an hour old, `rekey` drops `previous`.
   Run it an hour after `rotate` and within PayloadRetentionDays; again later if it
   says so. Repeating it is harmless.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from round0.candidate_index import index_updates
from round0.candidates import CANDIDATE_KEY_PREFIX, candidate_keys
from round0.contract import payload_prefix
from round0.event_store import segment_of
from round0.reading import iso_utc, read_facts
from round0.secrets import secret_document
from round0.state_store import interview_key
from round0_ops.output import Printer
from round0_ops.stack import OpsError, Stack, explained

INGEST_KEY_MAX_AGE = 3600  # ingest's cache of the key (round0.wiring): its writes lag this
KEY_LENGTH = 64
FALLBACK_TTL = 365 * 86_400  # an entry without an expiry (none is written so) gets this


def fingerprint(key: bytes) -> str:
    """A short name of a key that reveals nothing of it (stored on re-filed entries)."""
    return hashlib.sha256(b"round0-index-key:" + key).hexdigest()[:16]


@dataclass
class Rekeyed:
    entries: int = 0  # entries looked at
    refiled: int = 0  # old entries re-filed under the new key (and deleted)
    current: int = 0  # entries already under the new key
    stranded: int = 0  # old entries whose bodies are gone
    stranded_until: int | None = None  # when the last of those expires
    finished: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "refiled": self.refiled,
            "already_current": self.current,
            "stranded": self.stranded,
            "stranded_until": _iso(self.stranded_until),
            "finished": self.finished,
        }


def _iso(value: float | None) -> str | None:
    return None if value is None else iso_utc(datetime.fromtimestamp(value, UTC))


def _secret(stack: Stack) -> dict[str, Any]:
    document = secret_document(stack.secret("CandidateIndexKeyArn"))
    if not document or not document.get("key"):
        raise OpsError("the candidate index key secret is empty", "redeploy the stack")
    return document


def _put(stack: Stack, document: dict[str, Any]) -> None:
    with explained("writing the candidate index key"):
        stack.client("secretsmanager").put_secret_value(
            SecretId=stack.output("CandidateIndexKeyArn"), SecretString=json.dumps(document)
        )


def rotate(stack: Stack, printer: Printer, now: float | None = None) -> int:
    now = time.time() if now is None else now
    document = _secret(stack)
    if document.get("previous"):
        raise OpsError(
            "a re-key has not finished: the index still needs the previous key",
            "run round0-ops index-key rekey (it says what is left)",
        )
    new = secrets.token_urlsafe(48)[:KEY_LENGTH]
    _put(stack, {"key": new, "previous": document["key"], "rotated_at": int(now)})
    after = _iso(now + INGEST_KEY_MAX_AGE)
    printer.text(
        f"index key rotated (new {fingerprint(new.encode())}); erasures search under both"
        f" keys until the re-key finishes.\nrun round0-ops index-key rekey after {after}"
        " (ingest may file under the old key until then) and within PayloadRetentionDays\n"
    )
    printer.document(
        {"rotated": True, "fingerprint": fingerprint(new.encode()), "rekey_after": after}
    )
    return 0


class _Index:
    """The entries and bodies a re-key reads and writes."""

    def __init__(self, stack: Stack) -> None:
        self.table = stack.output("EventsTableName")
        self.db = stack.client("dynamodb")
        self.s3 = stack.client("s3")
        self.payloads = stack.output("PayloadBucketName")

    def entries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        paginator = self.db.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self.table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": CANDIDATE_KEY_PREFIX}},
            ConsistentRead=True,
        ):
            found.extend(page.get("Items", []))
        return found

    def add_to_interview(self, interview_id: str, keys: tuple[str, ...]) -> None:
        """The interview's state carries its candidate's new keys too (erasures follow
        them); an interview with no state left is skipped."""
        try:
            self.db.update_item(
                TableName=self.table,
                Key=interview_key(interview_id),
                UpdateExpression="ADD candidate_keys :keys",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":keys": {"SS": list(keys)}},
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return

    def bodies(self, event_id: str) -> list[Any]:
        documents = []
        listed = self.s3.list_objects_v2(
            Bucket=self.payloads, Prefix=payload_prefix(segment_of(event_id))
        )
        for item in listed.get("Contents", []):
            raw = self.s3.get_object(Bucket=self.payloads, Key=item["Key"])["Body"].read()
            try:
                documents.append(json.loads(raw))
            except ValueError:
                continue
        return documents


def rekey(stack: Stack, printer: Printer, now: float | None = None) -> int:
    now = time.time() if now is None else now
    document = _secret(stack)
    if not document.get("previous"):
        printer.text("no rotation in progress: every entry is under the current key\n")
        printer.document({**Rekeyed(finished=True).document()})
        return 0
    key = str(document["key"]).encode()
    mark = fingerprint(key)
    index = _Index(stack)
    result = Rekeyed()
    with explained("re-filing the candidate index"):
        for entry in index.entries():
            result.entries += 1
            _rekey_entry(index, entry, key, mark, result, now)
    rotated_at = float(document.get("rotated_at", 0))
    result.finished = not result.stranded and now >= rotated_at + INGEST_KEY_MAX_AGE
    if result.finished:
        _put(stack, {"key": document["key"]})
    printer.text(_summary(result, rotated_at))
    printer.document(result.document())
    return 0


def _rekey_entry(
    index: _Index, entry: dict[str, Any], key: bytes, mark: str, result: Rekeyed, now: float
) -> None:
    pk = entry["pk"]["S"]
    if entry.get("key_fingerprint", {}).get("S") == mark:
        result.current += 1
        return
    # an entry keeps its expiry (InterviewArchiveRetentionDays from its filing)
    expires_at = int(entry.get("expires_at", {}).get("N", "0")) or int(now) + FALLBACK_TTL
    interview_ids = entry.get("interview_ids", {}).get("SS", [])
    refiled: set[str] = set()
    for event_id in entry.get("event_ids", {}).get("SS", []):
        for body in index.bodies(event_id):
            facts = read_facts(body)
            keys = candidate_keys(facts, key)
            if not keys:
                continue
            interview = facts.interview_id or (
                interview_ids[0] if len(interview_ids) == 1 else None
            )
            for update in index_updates(index.table, keys, interview, event_id, expires_at):
                index.db.update_item(
                    TableName=update["TableName"],
                    Key=update["Key"],
                    UpdateExpression=update["UpdateExpression"] + ", key_fingerprint = :mark",
                    ExpressionAttributeValues={
                        **update["ExpressionAttributeValues"],
                        ":mark": {"S": mark},
                    },
                )
            if interview is not None:
                index.add_to_interview(interview, keys)
            refiled |= set(keys)
    if pk in refiled:
        result.current += 1  # under the new key already (filed by ingest since the rotation)
    elif refiled:
        index.db.delete_item(TableName=index.table, Key={"pk": {"S": pk}})
        result.refiled += 1
    else:
        result.stranded += 1
        result.stranded_until = max(result.stranded_until or 0, expires_at)


def _summary(result: Rekeyed, rotated_at: float) -> str:
    lines = [
        f"index entries: {result.entries}; re-filed under the new key: {result.refiled};"
        f" already under it: {result.current}; stranded (bodies gone): {result.stranded}"
    ]
    if result.finished:
        lines.append("re-key finished: the previous key is dropped")
    elif result.stranded:
        lines.append(
            f"the previous key stays until {_iso(result.stranded_until)} (when the last stranded"
            " entry expires); erasures search under both keys; run rekey again then"
        )
    else:
        lines.append(
            f"run rekey again after {_iso(rotated_at + INGEST_KEY_MAX_AGE)}: ingest may file"
            " under the old key until then"
        )
    return "\n".join(lines) + "\n"
