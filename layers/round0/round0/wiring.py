"""Composition root of the delivery (keep, record once, publish) shared by ingest and sweeper."""

from functools import cache

from round0.bus import EventBus
from round0.delivery import Delivery, DeliveryPolicy, RetryableError
from round0.event_store import EventStore
from round0.filing import Filing
from round0.large_events import PayloadStore
from round0.secrets import ParsedValue, index_key, secret_value
from round0.settings import FunctionSettings, load_settings

SECONDS_PER_DAY = 86_400


class IndexKeyUnavailable(RetryableError):
    """The candidate index's key cannot be read (or is not set): the event is kept and
    published later, once it can be filed for erasure."""


class DeliverySettings(FunctionSettings):
    events_table_name: str
    event_bus_name: str
    payload_bucket_name: str
    candidate_index_key_secret_id: str
    event_ttl_days: int = 30
    candidate_index_ttl_days: int = 365
    claim_lease_seconds: float = 30.0
    # after a failed publish, the sweeper's first wait (doubling up to an hour)
    publish_backoff_seconds: float = 60.0


def _index_key(secret_string: str) -> bytes:
    key = index_key(secret_string)
    if key is None:
        raise IndexKeyUnavailable("index_key_invalid", retry_after=60)
    return key


@cache
def delivery() -> Delivery:
    settings = load_settings(DeliverySettings)
    return Delivery(
        store=EventStore(settings.events_table_name),
        filing=Filing(
            settings.events_table_name, settings.candidate_index_ttl_days * SECONDS_PER_DAY
        ),
        bus=EventBus(settings.event_bus_name),
        payloads=PayloadStore(settings.payload_bucket_name),
        # the key never changes (a new key would orphan the index): cached for an hour
        index_key=ParsedValue(
            secret_value(settings.candidate_index_key_secret_id, max_age=3600),
            _index_key,
            unavailable=lambda: IndexKeyUnavailable("index_key_unavailable", retry_after=5),
        ),
        policy=DeliveryPolicy(
            ttl_seconds=settings.event_ttl_days * SECONDS_PER_DAY,
            index_ttl_seconds=settings.candidate_index_ttl_days * SECONDS_PER_DAY,
            lease_seconds=settings.claim_lease_seconds,
            backoff_seconds=settings.publish_backoff_seconds,
        ),
    )
