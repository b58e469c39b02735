"""The project's EventBridge bus (what goes on it: `round0.contract`)."""

from typing import TYPE_CHECKING

from round0 import aws
from round0.contract import SOURCE

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class PublishError(Exception):
    """The bus did not take the event. `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
