"""ROUND0's `X-Webhook-Signature` scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The signed content is the bytes `<t>.<raw body>`, keyed with the endpoint's signing
secret (Stripe's scheme). Pure functions: no AWS, no clock of their own.
"""

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Webhook-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
# Unix seconds have 10 digits until the year 2286. A longer `t=` is refused as
# malformed before it becomes a number: 400 digits overflow a float in the window
# check, 5,000 exceed CPython's limit on converting digit strings.
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(Exception):
    """The request's signature is missing, malformed, stale or wrong.

    `reason` is a short, stable code, safe to log and to count in metrics.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def compute_signature(body: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value ROUND0 would send for `body` at `timestamp`."""
    return f"t={timestamp},v1={compute_signature(body, secret, timestamp)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
        # other schemes (v0, ...) are ignored, as Stripe's verifiers do
    if len(timestamps) != 1:
        raise SignatureError("malformed", "signature header needs exactly one t= timestamp")
    if not signatures:
        raise SignatureError("malformed", "signature header has no v1= signature")
    raw_timestamp = timestamps[0]
    if (
        not raw_timestamp.isascii()
        or not raw_timestamp.isdigit()
        or len(raw_timestamp) > MAX_TIMESTAMP_DIGITS
    ):
        raise SignatureError("malformed", "signature timestamp is not a unix time in seconds")
    return int(raw_timestamp), signatures


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check `header` against `body`; return the signed timestamp or raise SignatureError.

    Any `v1` value may match any of `secrets` (rotation keeps the previous secret
    valid). Every comparison is constant-time.
    """
    if not header:
        raise SignatureError("missing", f"{SIGNATURE_HEADER} header is missing")
    timestamp, candidates = _parse_header(header)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("stale", "signature timestamp is outside the accepted window")
    expected = [compute_signature(body, secret, timestamp) for secret in secrets if secret]
    matched = False
    for candidate in candidates:
        for digest in expected:
            # no early exit: every pair is compared, in constant time
            matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), digest.encode())
    if not matched:
        raise SignatureError("mismatch", "signature does not match")
    return timestamp
