"""The project's EventBridge bus (what goes on it: `round0.contract`)."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from round0 import aws
from round0.contract import SOURCE
from round0.failures import PermanentFailure

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


# PutEvents entry errors that say this entry will never be taken (botocore's model of
# PutEventsResultEntry.ErrorCode). InternalFailure and ThrottlingException pass; the
# access errors (AccessDeniedException, NotAuthorizedFor...) are the stack's
# configuration, which an operator fixes for every event alike.
REFUSED_ENTRY_CODES = frozenset({"MalformedDetail", "InvalidArgument", "RedactionFailure"})


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
        """Put one event on the bus; PermanentFailure when the bus refuses it for good."""
        client = self._client or aws.events()
        try:
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
        except ClientError as exc:
            code = aws.error_code(exc)
            if code == "ValidationException":  # the entry itself is not valid
                raise PermanentFailure(f"bus_refused: {code}") from exc
            raise
        if response.get("FailedEntryCount", 0) > 0:
            code = response["Entries"][0].get("ErrorCode", "unknown error")
            if code in REFUSED_ENTRY_CODES:
                raise PermanentFailure(f"bus_refused: {code}")
            raise PublishError(f"entry rejected: {code}")
