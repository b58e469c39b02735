"""Settings and composition root of the ATS sync: the chosen adapter, the dead-letter queue."""

from enum import StrEnum
from functools import cache

from round0.consumer import DeadLetterQueue
from round0.http import check_base_url
from round0.links import DEFAULT_APP_URL
from round0.observability import logger
from round0.pacing import DynamoSlots, Pacer, Rate
from round0.secrets import CachedValue, secret_value
from round0.settings import FunctionSettings, load_settings, setting
from round0.state_store import InterviewStates
from round0_ats.ports import Ats
from round0_ats.service import AtsSync


class Adapter(StrEnum):
    NONE = "none"
    WEBHOOK = "webhook"
    GREENHOUSE = "greenhouse"
    LEVER = "lever"


class AtsSettings(FunctionSettings):
    ats_adapter: Adapter = Adapter.NONE
    events_table_name: str
    dead_letter_queue_url: str
    # "" (unset) = the adapter's public API; set for a sandbox or a local stand-in
    ats_api_base_url: str | None = None
    # the webhook adapter's URL is in this secret, with its signing secret
    ats_webhook_secret_id: str = ""
    greenhouse_secret_id: str = ""
    lever_secret_id: str = ""
    secret_max_age_seconds: int = 300
    round0_app_url: str = DEFAULT_APP_URL
    # the documented limits (GreenhouseRequestsPer10Seconds, LeverRequestsPerSecond)
    greenhouse_requests_per_10_seconds: float = setting(default=50, gt=0)
    lever_requests_per_second: float = setting(default=10, gt=0)


def _adapter(settings: AtsSettings) -> Ats | None:
    """The configured adapter. Only its modules are imported: a deployment uses one
    adapter (none by default), and the others' modules, their credentials' models and
    the HTTP client would only lengthen every cold start."""
    # the credentials travel to this URL: https (or a loopback address), checked at start
    base = (
        check_base_url(settings.ats_api_base_url, "AtsApiBaseUrl")
        if settings.ats_api_base_url
        else None
    )
    if settings.ats_adapter is Adapter.NONE:
        return None
    from round0_ats import credentials  # noqa: PLC0415 - see the docstring
    from round0_ats.transport import Transport  # noqa: PLC0415

    def secret(secret_id: str) -> CachedValue:
        return secret_value(secret_id, settings.secret_max_age_seconds)

    match settings.ats_adapter:
        case Adapter.WEBHOOK:
            from round0_ats.webhook import WebhookAts  # noqa: PLC0415

            return WebhookAts(
                credentials.webhook_target(secret(settings.ats_webhook_secret_id)),
                Transport(Adapter.WEBHOOK),
            )
        case Adapter.GREENHOUSE:
            from round0_ats import greenhouse  # noqa: PLC0415

            return greenhouse.GreenhouseAts(
                credentials.greenhouse_credentials(secret(settings.greenhouse_secret_id)),
                Transport(
                    Adapter.GREENHOUSE,
                    pacer=Pacer(
                        "greenhouse",
                        Rate(settings.greenhouse_requests_per_10_seconds, 10),
                        DynamoSlots(settings.events_table_name),
                    ),
                ),
                api_base=base or greenhouse.API_BASE,
                token_url=f"{base}/token" if base else greenhouse.OAUTH_TOKEN_ENDPOINT,
            )
        case Adapter.LEVER:
            from round0_ats import lever  # noqa: PLC0415

            return lever.LeverAts(
                credentials.lever_credentials(secret(settings.lever_secret_id)),
                Transport(
                    Adapter.LEVER,
                    pacer=Pacer(
                        "lever",
                        Rate(settings.lever_requests_per_second),
                        DynamoSlots(settings.events_table_name),
                    ),
                ),
                api_base=base or lever.API_BASE,
            )
    return None


@cache
def ats_sync() -> AtsSync | None:
    """The ATS sync for the configured adapter; None when `AtsAdapter` is `none`."""
    settings = load_settings(AtsSettings)
    ats = _adapter(settings)
    if ats is None:
        logger.info("ATS sync is off (AtsAdapter=none): events are not sent anywhere")
        return None
    return AtsSync(ats, InterviewStates(settings.events_table_name), settings.round0_app_url)


@cache
def dead_letters() -> DeadLetterQueue:
    return DeadLetterQueue(load_settings(AtsSettings).dead_letter_queue_url)
