"""Which URLs may be called: https anywhere, plain http only to this machine.

Plain http is for local runs (the local stand-ins listen on a loopback address);
anything else sent over it would leave the machine unencrypted.
"""

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_https_or_loopback(url: str) -> bool:
    """True for an https URL, or an http URL whose host is a loopback address."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)
