"""round0.secrets: cached values, the rate-limited refresh, and the secret parsers."""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import BaseProvider, GetParameterError

from round0 import aws
from round0.secrets import (
    CachedValue,
    ParsedValue,
    index_key,
    parameter_value,
    secret_document,
    secret_field,
    secret_value,
    signing_secrets,
)


class FakeProvider(BaseProvider):
    """A parameter store whose value and failures the test sets; counts real reads."""

    def __init__(self, value: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.value = value
        self.reads = 0
        self.failing = False

    def _get(self, name: str, **sdk_options: Any) -> str:
        self.reads += 1
        if self.failing:
            raise RuntimeError("unreachable")
        return self.value

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_value_is_cached_for_max_age() -> None:
    provider = FakeProvider("one")
    value = CachedValue(provider, "secret", max_age=300)
    assert value.current() == "one"
    provider.value = "two"
    assert value.current() == "one"
    assert provider.reads == 1


def test_a_refresh_reads_afresh_but_at_most_once_per_refresh_after() -> None:
    provider, clock = FakeProvider("one"), Clock()
    value = CachedValue(provider, "secret", max_age=300, refresh_after=60, clock=clock)
    value.current()
    provider.value = "rotated"
    assert value.refreshed() == "rotated"
    assert value.current() == "rotated"  # the refresh filled the cache
    assert value.refreshed() is None  # too soon: a flood of mismatches reads nothing
    clock.now += 61
    assert value.refreshed() == "rotated"
    assert provider.reads == 3


def test_a_parsed_value_maps_an_unreadable_secret_to_the_callers_error() -> None:
    provider = FakeProvider("x")
    provider.failing = True
    parsed = ParsedValue(CachedValue(provider, "s", 300), str.upper, lambda: KeyError("down"))
    with pytest.raises(KeyError, match="down") as raised:
        parsed.current()
    assert isinstance(raised.value.__cause__, GetParameterError)
    with pytest.raises(KeyError):
        parsed.refreshed()


def test_a_parsed_value_parses_current_and_refreshed() -> None:
    provider, clock = FakeProvider("abc"), Clock()
    parsed = ParsedValue(
        CachedValue(provider, "s", 300, refresh_after=60, clock=clock), str.upper, Exception
    )
    assert parsed.current() == "ABC"
    assert parsed.refreshed() == "ABC"
    assert parsed.refreshed() is None


@pytest.mark.parametrize(
    ("secret", "value"),
    [
        ('{"api_key": "rz_live_abc"}', "rz_live_abc"),
        ('{"api_key": " rz_live_abc "}', "rz_live_abc"),
        ("rz_live_abc", "rz_live_abc"),
        ('{"api_key": ""}', None),
        ('{"api_key": 7}', None),
        ('{"other": "x"}', None),
        ("[1, 2]", "[1, 2]"),
        ("", None),
        ("{broken", None),
    ],
)
def test_secret_field_reads_one_field_or_the_plain_value(secret: str, value: str | None) -> None:
    assert secret_field(secret, "api_key") == value


def test_secret_document_is_a_json_object_or_none() -> None:
    assert secret_document('{"a": 1}') == {"a": 1}
    assert secret_document("[1]") is None
    assert secret_document("plain") is None


def test_signing_secrets_plain_or_json_with_previous() -> None:
    assert signing_secrets("whsec_a") == ("whsec_a",)
    assert signing_secrets('{"current": "whsec_a", "previous": "whsec_b"}') == (
        "whsec_a",
        "whsec_b",
    )
    assert signing_secrets('{"current": "whsec_a", "previous": ""}') == ("whsec_a",)
    for empty in ("", "  ", '{"current": ""}', '{"previous": "whsec_b"}', "{broken"):
        with pytest.raises(ValueError, match="signing secret"):
            signing_secrets(empty)


def test_the_providers_default_to_the_projects_cached_clients() -> None:
    assert secret_value("secret", 60).provider().client is aws.secretsmanager()  # type: ignore[attr-defined]
    assert parameter_value("parameter", 60).provider().client is aws.ssm()  # type: ignore[attr-defined]


def test_the_index_key_is_read_one_way_for_ingest_and_erasure() -> None:
    assert index_key('{"key": "k3y"}') == b"k3y"
    assert index_key('{"key": ""}') is None
    assert index_key("{}") is None


def test_a_provider_given_as_a_function_is_made_at_the_first_read_only() -> None:
    # Given a value whose provider (and so its AWS client) is made on demand
    made: list[FakeProvider] = []

    def make() -> FakeProvider:
        made.append(FakeProvider("one"))
        return made[-1]

    value = CachedValue(make, "secret", max_age=300)
    # Then nothing is made until it is read, and it is made once
    assert made == []
    assert value.current() == "one"
    assert value.current() == "one"
    assert len(made) == 1
    assert made[0].reads == 1
