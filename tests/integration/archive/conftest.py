"""Fixtures for the archive consumer: its real handler over moto S3, SQS, DynamoDB and
Secrets Manager, with ROUND0's API and audio storage played by a local stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from round0 import aws
from round0_testkit.events import as_reference, load_bus_event
from round0_testkit.faults import FaultyClient
from round0_testkit.queues import ThroughQueue
from round0_testkit.standins.round0_api import LOCAL_API_KEY, Round0ApiStandIn
from round0_testkit.template import TemplateStack

MIB = 1024 * 1024
# the ids in events/bus/interview_ended.json, and where its archive goes
INTERVIEW = "660f9511-f30c-52e5-b827-557766551111"
Q1 = "880h1733-h52e-74g7-d049-779988773333"
Q2 = "990i2844-i63f-85h8-e150-880099884444"
PREFIX = f"interviews/{INTERVIEW}/"


def ended_event() -> dict[str, Any]:
    """The sample `interview_ended` bus event (a fresh copy)."""
    return load_bus_event("interview_ended.json")


@pytest.fixture
def round0() -> Iterator[Round0ApiStandIn]:
    with Round0ApiStandIn(hang_seconds=5) as standin:
        yield standin


@dataclass
class ArchiveHarness:
    """The archive function as Lambda runs it, and what it left behind."""

    invoke: Callable[[dict[str, Any]], Any]
    bucket: str
    dead_letter_queue_url: str
    secret_arn: str
    drain_queue: Callable[[str], list[dict[str, Any]]]
    payload_bucket: str  # where the bodies the bus events refer to are kept
    pauses: list[float] = field(default_factory=list)

    def objects(self) -> dict[str, bytes]:
        s3 = boto3.client("s3")
        listed = s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {
            item["Key"]: s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
            for item in listed
        }

    def head(self, key: str) -> dict[str, Any]:
        return dict(boto3.client("s3").head_object(Bucket=self.bucket, Key=key))

    def sha256(self, key: str) -> str | None:
        """The SHA-256 the archive keeps in the object's metadata (x-amz-meta-sha256)."""
        metadata: dict[str, str] = self.head(key)["Metadata"]
        return metadata.get("sha256")

    def storage_class(self, key: str) -> str:
        """The object's storage class (S3 leaves it out of a HEAD for STANDARD)."""
        return str(self.head(key).get("StorageClass", "STANDARD"))

    def tag_count(self) -> int:
        """Tags on every object of the bucket (each is billed every month)."""
        s3 = boto3.client("s3")
        return sum(
            len(s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"])
            for key in self.objects()
        )

    def pending_uploads(self) -> list[dict[str, Any]]:
        listed = boto3.client("s3").list_multipart_uploads(Bucket=self.bucket)
        return [dict(upload) for upload in listed.get("Uploads", [])]

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.drain_queue(self.dead_letter_queue_url)

    def set_api_key(self, value: str) -> None:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps({"api_key": value})
        )


@pytest.fixture
def archive(
    stack: TemplateStack,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    round0: Round0ApiStandIn,
    monkeypatch: pytest.MonkeyPatch,
    drain_queue: Callable[[str], list[dict[str, Any]]],
    through_queue: ThroughQueue,
) -> ArchiveHarness:
    """The archive handler, configured through the template's own parameters to use
    the stand-in: API base URL and audio allowlist point at 127.0.0.1:<port>."""
    stack.parameters["Round0ApiBaseUrl"] = round0.api_base_url
    stack.parameters["AudioHostAllowlist"] = round0.origin
    environment = function_env("ArchiveFunction")
    # short timeouts and the smallest part S3 allows keep the tests fast and small
    monkeypatch.setenv("API_READ_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("AUDIO_READ_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("AUDIO_PART_SIZE_BYTES", str(5 * MIB))
    harness_pauses: list[float] = []
    monkeypatch.setattr("round0.retry.pause", harness_pauses.append)
    from round0_archive.app import lambda_handler

    harness = ArchiveHarness(
        invoke=lambda event: through_queue(
            "ArchiveFunction",
            lambda_handler,
            as_reference(event, environment["PAYLOAD_BUCKET_NAME"], boto3.client("s3")),
            lambda_context,
        ),
        bucket=environment["ARCHIVE_BUCKET_NAME"],
        dead_letter_queue_url=environment["DEAD_LETTER_QUEUE_URL"],
        secret_arn=environment["ROUND0_API_KEY_SECRET_ID"],
        drain_queue=drain_queue,
        payload_bucket=environment["PAYLOAD_BUCKET_NAME"],
        pauses=harness_pauses,
    )
    harness.set_api_key(LOCAL_API_KEY)
    return harness


def watch_puts(s3_calls: FaultyClient) -> list[dict[str, Any]]:
    """The arguments of every PutObject sent through `s3_calls` from now on."""
    seen: list[dict[str, Any]] = []

    def observe(arguments: dict[str, Any]) -> bool:
        seen.append(arguments)
        return False  # never a fault: only watched

    s3_calls.fail("put_object", times=1, fault=lambda: None, when=observe)
    return seen


def watch_reads(s3_calls: FaultyClient) -> list[str]:
    """The bucket of every GetObject sent through `s3_calls` from now on."""
    seen: list[str] = []

    def observe(arguments: dict[str, Any]) -> bool:
        seen.append(arguments["Bucket"])
        return False  # never a fault: only watched

    s3_calls.fail("get_object", times=1, fault=lambda: None, when=observe)
    return seen


@pytest.fixture
def s3_calls(archive: ArchiveHarness, monkeypatch: pytest.MonkeyPatch) -> FaultyClient:
    """The deployed code's S3 client, wrapped so a test can see (or fail) each call."""
    wrapper = FaultyClient(boto3.client("s3"))
    monkeypatch.setattr(aws, "s3", lambda: wrapper)
    return wrapper
