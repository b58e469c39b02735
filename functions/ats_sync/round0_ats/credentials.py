"""Each adapter's credentials, read from its Secrets Manager secret and cached.

The template creates every secret with a placeholder (the webhook's signing secret is
generated); a placeholder or an empty field means "not configured", which dead-letters
the event (`NotConfigured`) so it can be redriven once the secret is filled in.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from aws_lambda_powertools.utilities.parameters import GetParameterError, SecretsProvider
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from round0 import aws
from round0.consumer import TransientFailure
from round0.signature import parse_signing_secrets
from round0_ats.ports import NotConfigured

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

Required = Field(min_length=1)


class GreenhouseCredentials(BaseModel):
    """A Harvest v3 OAuth client (Client Credentials flow) and the user it acts as."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client_id: str = Required
    client_secret: str = Required
    user_id: str = Required  # the token's `sub`: notes and tags are written as this user
    note_visibility: Literal["public", "private", "admin_only"] = "private"


class LeverCredentials(BaseModel):
    """A Lever API key and the user every write is performed as (`perform_as`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    api_key: str = Required
    perform_as: str = Required
    secret_notes: bool = True


class SecretValue:
    """One secret's string, cached by Powertools for `max_age` seconds."""

    def __init__(
        self,
        secret_id: str,
        max_age: int,
        client: "SecretsManagerClient | None" = None,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age
        self._provider = SecretsProvider(boto3_client=client or aws.secretsmanager())

    def read(self) -> str:
        try:
            return str(self._provider.get(self._secret_id, max_age=self._max_age))
        except GetParameterError as exc:
            raise TransientFailure("secret_unavailable: the ATS secret could not be read") from exc


def webhook_signing_secret(value: SecretValue) -> Callable[[], str]:
    """The secret the webhook adapter signs with: `current` of the generated secret."""

    def read() -> str:
        try:
            return parse_signing_secrets(value.read())[0]
        except ValueError as exc:
            raise NotConfigured("ats_not_configured: the webhook signing secret is empty") from exc

    return read


def _document(value: SecretValue, adapter: str) -> dict[str, object]:
    try:
        document = json.loads(value.read())
    except json.JSONDecodeError as exc:
        raise NotConfigured(f"ats_not_configured: the {adapter} secret is not JSON") from exc
    if not isinstance(document, dict):
        raise NotConfigured(f"ats_not_configured: the {adapter} secret is not a JSON object")
    return document


def greenhouse_credentials(value: SecretValue) -> Callable[[], GreenhouseCredentials]:
    def read() -> GreenhouseCredentials:
        try:
            return GreenhouseCredentials.model_validate(_document(value, "greenhouse"))
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise NotConfigured(
                f"ats_not_configured: the greenhouse secret has no valid {', '.join(fields)}"
            ) from exc

    return read


def lever_credentials(value: SecretValue) -> Callable[[], LeverCredentials]:
    def read() -> LeverCredentials:
        try:
            return LeverCredentials.model_validate(_document(value, "lever"))
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise NotConfigured(
                f"ats_not_configured: the lever secret has no valid {', '.join(fields)}"
            ) from exc

    return read
