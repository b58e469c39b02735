"""Composition root of the delivery (store once, publish) shared by ingest and sweeper."""

from functools import cache

from round0.bus import EventBus
from round0.candidate_index import CandidateIndex
from round0.delivery import Delivery, DeliveryPolicy
from round0.event_store import EventStore
from round0.large_events import PayloadStore
from round0.settings import FunctionSettings, load_settings
from round0.state_store import InterviewStates

SECONDS_PER_DAY = 86_400


class DeliverySettings(FunctionSettings):
    events_table_name: str
    event_bus_name: str
    payload_bucket_name: str
    event_ttl_days: int = 30
    candidate_index_ttl_days: int = 365
    claim_lease_seconds: float = 30.0
    # failed attempts before a record is quarantined whatever the failure (delivery.py)
    delivery_max_attempts: int = 30


@cache
def delivery() -> Delivery:
    settings = load_settings(DeliverySettings)
    return Delivery(
        store=EventStore(settings.events_table_name),
        states=InterviewStates(settings.events_table_name),
        index=CandidateIndex(settings.events_table_name),
        bus=EventBus(settings.event_bus_name),
        payloads=PayloadStore(settings.payload_bucket_name),
        policy=DeliveryPolicy(
            ttl_seconds=settings.event_ttl_days * SECONDS_PER_DAY,
            index_ttl_seconds=settings.candidate_index_ttl_days * SECONDS_PER_DAY,
            lease_seconds=settings.claim_lease_seconds,
            max_attempts=settings.delivery_max_attempts,
        ),
    )
