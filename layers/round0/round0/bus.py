"""The project's EventBridge bus and the contract it publishes.

Every accepted event goes on the bus with `Source: "round0"`, `DetailType:` the
ROUND0 `type` verbatim and `Detail:` the ROUND0 event object unchanged. An event too
large for one EventBridge entry travels as a pointer instead (see `large_events`).
"""

from typing import TYPE_CHECKING

from round0 import aws

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "round0"
# PutEvents' limit for one entry, counted as AWS documents it: Source, DetailType,
# Detail (UTF-8 bytes) and 14 bytes for the Time field.
MAX_ENTRY_BYTES = 256 * 1024
_TIME_FIELD_BYTES = 14


class PublishError(Exception):
    """The bus did not take the event. `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def entry_size(detail_type: str, detail: str) -> int:
    return (
        len(SOURCE.encode()) + len(detail_type.encode()) + len(detail.encode()) + _TIME_FIELD_BYTES
    )


def fits_on_bus(detail_type: str, detail: str) -> bool:
    return entry_size(detail_type, detail) <= MAX_ENTRY_BYTES


class EventBus:
    """Publishes ROUND0 events to one EventBridge bus."""

    def __init__(self, bus_name: str, client: "EventBridgeClient | None" = None) -> None:
        self._bus_name = bus_name
        self._client = client

    def publish(self, detail_type: str, detail: str) -> None:
        client = self._client or aws.events()
        response = client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus_name,
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": detail,
                }
            ]
        )
        if response.get("FailedEntryCount", 0) > 0:
            entry = response["Entries"][0]
            raise PublishError(f"entry rejected: {entry.get('ErrorCode', 'unknown error')}")
