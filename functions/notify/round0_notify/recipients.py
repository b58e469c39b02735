"""Who gets the hiring-manager email: a default list, or the job's own list.

The routing map lives in SSM Parameter Store (a JSON object from job id to
addresses), read through Powertools with a short cache, so people change it without a
redeploy. A job in the map gets exactly its listed recipients (an empty list turns the
email off for that job); any other job gets the default list from the stack parameter.
"""

import json
import re
from collections.abc import Iterable
from typing import Any

from round0.failures import PermanentFailure, TransientFailure
from round0.secrets import CachedValue, ParsedValue

# SES takes at most 50 recipients per message.
MAX_RECIPIENTS = 50
_ADDRESS = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+")
_SEPARATORS = re.compile(r"[,;\s]+")


class InvalidRecipients(ValueError):
    """A recipient list or routing map that cannot be used as it is."""


def _checked(addresses: Iterable[str]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(address.strip() for address in addresses if address.strip()))
    invalid = [address for address in unique if not _ADDRESS.fullmatch(address)]
    if invalid:
        raise InvalidRecipients(f"{len(invalid)} invalid address(es)")
    if len(unique) > MAX_RECIPIENTS:
        raise InvalidRecipients(f"more than {MAX_RECIPIENTS} recipients")
    return unique


def parse_address_list(text: str) -> tuple[str, ...]:
    """Addresses separated by commas, semicolons or whitespace, de-duplicated in order."""
    return _checked(_SEPARATORS.split(text))


def parse_routing_map(text: str) -> dict[str, tuple[str, ...]]:
    """`{"<job id>": ["a@example.com", ...] or "a@example.com, b@example.com"}`."""
    try:
        document: Any = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise InvalidRecipients(f"routing map is not JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise InvalidRecipients("routing map must be a JSON object of job id to addresses")
    routes: dict[str, tuple[str, ...]] = {}
    for job_id, addresses in document.items():
        if isinstance(addresses, str):
            routes[job_id] = parse_address_list(addresses)
        elif isinstance(addresses, list) and all(isinstance(item, str) for item in addresses):
            routes[job_id] = _checked(addresses)
        else:
            raise InvalidRecipients("each job's recipients must be a list of addresses")
    return routes


class RecipientDirectory:
    """The recipients of one job's email: its route in SSM, else the default list."""

    def __init__(self, default: tuple[str, ...], routing: CachedValue | None) -> None:
        self._default = default
        self._routes = (
            None
            if routing is None
            else ParsedValue(
                routing,
                _routes,
                unavailable=lambda: TransientFailure("email_routing_unavailable"),
            )
        )

    def for_job(self, job_id: str | None) -> tuple[str, ...]:
        """The job's route; the default list for a job not routed (or an event naming none)."""
        if self._routes is None or job_id is None:
            return self._default
        return self._routes.current().get(job_id, self._default)


def _routes(text: str) -> dict[str, tuple[str, ...]]:
    try:
        return parse_routing_map(text)
    except InvalidRecipients as exc:
        # retrying cannot fix a bad map; dead-lettered, it is sent once it is fixed
        raise PermanentFailure(f"email_routing_invalid: {exc}") from exc
