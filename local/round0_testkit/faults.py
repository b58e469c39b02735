"""Fault injection for boto3 clients: a real client whose chosen calls fail on demand.

Used by the tests to throttle DynamoDB, fail PutEvents and the like without touching
the deployed code, which receives the wrapper wherever it would use its client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


def client_error(code: str, operation: str, status: int = 400) -> Callable[[], Any]:
    """A fault that raises the ClientError botocore raises for `code`."""

    def raise_it() -> Any:
        raise ClientError(
            {
                "Error": {"Code": code, "Message": f"injected {code}"},
                "ResponseMetadata": {"HTTPStatusCode": status},  # type: ignore[typeddict-item]
            },
            operation,
        )

    return raise_it


@dataclass
class _Fault:
    operation: str
    when: Callable[[dict[str, Any]], bool]
    fault: Callable[[], Any]
    remaining: int


class FaultyClient:
    """Delegates to `client`; a matching call runs its fault instead (bounded times)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._faults: list[_Fault] = []
        self.calls: list[str] = []

    def fail(
        self,
        operation: str,
        times: int,
        fault: Callable[[], Any],
        when: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> None:
        self._faults.append(_Fault(operation, when, fault, times))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in {"exceptions", "meta"} or not callable(attribute):
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            for fault in self._faults:
                if fault.operation == name and fault.remaining > 0 and fault.when(kwargs):
                    fault.remaining -= 1
                    return fault.fault()
            return attribute(**kwargs)

        return call
