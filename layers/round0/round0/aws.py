"""boto3 clients: created lazily on first use, cached for warm invocations.

Every adapter takes an optional client, so tests pass a moto-backed or stubbed one;
these functions are only the defaults. `AWS_ENDPOINT_URL` (read by botocore) points
them at a local emulator without any code change.
"""

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# the codes S3 answers for an object (or a key) that is not there: GetObject's,
# and HEAD's (no body, so only the status)
S3_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
# what S3 answers a write with `If-None-Match: *` when an object is already at its key
S3_ALREADY_THERE = frozenset({"412", "PreconditionFailed"})


def error_code(exc: ClientError) -> str | None:
    """An AWS error's code (`ThrottlingException`, `NoSuchKey`, `404`, ...)."""
    return exc.response.get("Error", {}).get("Code")


# Standard retry mode retries throttling and 5xx with backoff; timeouts keep a
# hung call from eating the 10 seconds ROUND0 waits for an answer.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


@cache
def dynamodb() -> "DynamoDBClient":
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@cache
def events() -> "EventBridgeClient":
    return boto3.client("events", config=CLIENT_CONFIG)


@cache
def s3() -> "S3Client":
    return boto3.client("s3", config=CLIENT_CONFIG)


@cache
def sqs() -> "SQSClient":
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> "SecretsManagerClient":
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@cache
def ssm() -> "SSMClient":
    return boto3.client("ssm", config=CLIENT_CONFIG)


# SES sends are retried by the consumer (`round0.consumer.with_retries`), which
# honours the time the invocation has left; botocore retrying too would multiply them.
SES_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 1}))


@cache
def ses() -> "SESClient":
    return boto3.client("ses", config=SES_CLIENT_CONFIG)
