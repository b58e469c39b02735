"""Settings and composition root of the ingest function."""

from functools import cache

from round0.secrets import ParsedValue, secret_value, signing_secrets
from round0.settings import FunctionSettings, load_settings
from round0.wiring import delivery
from round0_ingest.service import Ingest, SecretUnavailable


class IngestSettings(FunctionSettings):
    signing_secret_id: str
    signature_tolerance_seconds: int = 300
    secret_max_age_seconds: int = 300
    # after a mismatch, a cached secret older than this is fetched again once
    secret_refresh_after_seconds: int = 60


def _signing_secrets(secret_string: str) -> tuple[str, ...]:
    try:
        return signing_secrets(secret_string)
    except ValueError as exc:
        raise SecretUnavailable("secret_invalid", retry_after=60) from exc


@cache
def ingest() -> Ingest:
    settings = load_settings(IngestSettings)
    secret = secret_value(
        settings.signing_secret_id,
        max_age=settings.secret_max_age_seconds,
        refresh_after=settings.secret_refresh_after_seconds,
    )
    return Ingest(
        secrets=ParsedValue(
            secret,
            _signing_secrets,
            unavailable=lambda: SecretUnavailable("secret_unavailable", retry_after=5),
        ),
        delivery=delivery(),
        tolerance_seconds=settings.signature_tolerance_seconds,
    )
