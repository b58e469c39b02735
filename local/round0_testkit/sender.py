"""Send ROUND0 payloads as ROUND0 does: signed with a fresh timestamp, POSTed as JSON.

Works against the local pipeline and against a deployed stack alike.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from round0.signature import SIGNATURE_HEADER, sign


@dataclass(frozen=True)
class Sent:
    status: int
    body: str
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def retry_after(self) -> float | None:
        """The answer's Retry-After in seconds, if it gave one (as delta-seconds)."""
        value = next((v for k, v in self.headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def payload_from_file(path: Path) -> bytes:
    """A ROUND0 payload file, or an `events/api` request file (its body is sent)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, dict) and document.get("version") == "2.0" and "body" in document:
        body: str = document["body"]
        return body.encode("utf-8")
    return compact(document)


def send(
    url: str,
    body: bytes,
    secret: str,
    session: requests.Session | None = None,
    timeout: float = 15.0,
) -> Sent:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "round0-local",
        SIGNATURE_HEADER: sign(body, secret, int(time.time())),
    }
    started = time.perf_counter()
    response = (session or requests).post(url, data=body, headers=headers, timeout=timeout)
    return Sent(
        response.status_code,
        response.text,
        time.perf_counter() - started,
        dict(response.headers.items()),
    )
