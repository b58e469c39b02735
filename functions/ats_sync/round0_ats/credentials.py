"""Each adapter's credentials, read from its Secrets Manager secret and cached.

The template creates every secret with a placeholder (the webhook's signing secret is
generated); a placeholder or an empty field means "not configured", which dead-letters
the event (`NotConfigured`) so it can be redriven once the secret is filled in.

The webhook adapter's secret holds `{"current", "previous", "url"}`: the signing secret
and the receiver's URL, which may carry a token, so it lives here and not in a stack
parameter or an environment variable.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from round0.failures import TransientFailure
from round0.http import is_https_or_loopback
from round0.secrets import CachedValue, ParsedValue, secret_document, signing_secrets
from round0_ats.ports import NotConfigured

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


def _unavailable() -> Exception:
    return TransientFailure("secret_unavailable: the ATS secret could not be read")


@dataclass(frozen=True)
class WebhookTarget:
    """Where the webhook adapter posts (`url`) and the secret it signs with (`current`)."""

    url: str
    signing_secret: str

    def __repr__(self) -> str:  # both are credentials: never in a log or a traceback
        return "WebhookTarget(...)"


def check_webhook_url(url: str) -> str:
    """`url` if it is https (or http to this machine, for local runs); else NotConfigured."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host or not is_https_or_loopback(url):
        raise NotConfigured("ats_not_configured: the webhook secret's url must be an https URL")
    return url


def _webhook_target(secret_string: str) -> WebhookTarget:
    try:
        signing_secret = signing_secrets(secret_string)[0]
    except ValueError as exc:
        raise NotConfigured("ats_not_configured: the webhook signing secret is empty") from exc
    document = secret_document(secret_string) or {}
    url = document.get("url")
    if not isinstance(url, str) or not url.strip():
        raise NotConfigured("ats_not_configured: put the receiver's https URL in the secret's url")
    return WebhookTarget(check_webhook_url(url.strip()), signing_secret)


def webhook_target(secret: CachedValue) -> Callable[[], WebhookTarget]:
    """The webhook adapter's URL and signing secret, read from its secret at run time."""
    return ParsedValue(secret, _webhook_target, _unavailable).current


def _credentials[M: BaseModel](model: type[M], adapter: str, secret_string: str) -> M:
    document = secret_document(secret_string)
    if document is None:
        raise NotConfigured(f"ats_not_configured: the {adapter} secret is not a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise NotConfigured(
            f"ats_not_configured: the {adapter} secret has no valid {', '.join(fields)}"
        ) from exc


def greenhouse_credentials(secret: CachedValue) -> Callable[[], GreenhouseCredentials]:
    def parse(text: str) -> GreenhouseCredentials:
        return _credentials(GreenhouseCredentials, "greenhouse", text)

    return ParsedValue(secret, parse, _unavailable).current


def lever_credentials(secret: CachedValue) -> Callable[[], LeverCredentials]:
    def parse(text: str) -> LeverCredentials:
        return _credentials(LeverCredentials, "lever", text)

    return ParsedValue(secret, parse, _unavailable).current
