"""The ATS sync's composition root: every outbound base URL is checked when it starts."""

from __future__ import annotations

import pytest

from round0_ats.wiring import Adapter, AtsSettings, _adapter


def settings(adapter: Adapter, base: str | None) -> AtsSettings:
    return AtsSettings(
        ats_adapter=adapter,
        events_table_name="t",
        dead_letter_queue_url="https://sqs.example/q",
        ats_api_base_url=base,
        greenhouse_secret_id="g",
        lever_secret_id="l",
    )


@pytest.mark.parametrize("adapter", [Adapter.GREENHOUSE, Adapter.LEVER])
@pytest.mark.parametrize(
    "base",
    [
        "http://api.sandbox.lever.co",  # the credentials would travel in clear
        "http://harvest.example.com/",
        "https://user:pass@api.lever.co",
        "https://api.lever.co?x=1",
        "ftp://api.lever.co",
        "https://api.lever.co:notaport",
    ],
)
def test_an_ats_base_url_that_is_not_https_is_refused_at_start(adapter: Adapter, base: str) -> None:
    with pytest.raises(ValueError, match="AtsApiBaseUrl"):
        _adapter(settings(adapter, base))


@pytest.mark.parametrize("adapter", [Adapter.GREENHOUSE, Adapter.LEVER])
@pytest.mark.parametrize(
    "base", [None, "https://api.sandbox.lever.co", "http://127.0.0.1:8080", "http://[::1]:9/"]
)
def test_https_or_a_loopback_stand_in_is_accepted(adapter: Adapter, base: str | None) -> None:
    assert _adapter(settings(adapter, base)) is not None
