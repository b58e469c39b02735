"""round0.retry: bounded retries of a transient failure, within the invocation's time."""

import pytest

from round0 import retry
from round0.failures import PermanentFailure, TransientFailure
from round0.pacing import MustWait
from round0.retry import RetryPolicy, with_retries


class Flaky:
    def __init__(self, failures: list[Exception], result: str = "done") -> None:
        self.failures = failures
        self.result = result
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def test_a_transient_failure_is_retried_until_it_passes() -> None:
    waits: list[float] = []
    flaky = Flaky([TransientFailure("a"), TransientFailure("b")])
    assert with_retries(flaky, RetryPolicy(attempts=3), sleep=waits.append) == "done"
    assert flaky.calls == 3
    assert len(waits) == 2
    assert all(0 <= wait <= 20 for wait in waits)


def test_the_servers_retry_after_is_preferred_to_backoff() -> None:
    waits: list[float] = []
    with_retries(Flaky([TransientFailure("a", retry_after=3.5)]), sleep=waits.append)
    # with up to base_delay of jitter, so invocations throttled together spread out
    [wait] = waits
    assert 3.5 <= wait <= 3.5 + RetryPolicy().base_delay


def test_a_throttled_failure_left_after_the_attempts_waits_instead_of_failing() -> None:
    # Given a neighbour that answers 429 with Retry-After 5 on every attempt
    flaky = Flaky([TransientFailure("slack_rate_limited", retry_after=5, throttled=True)] * 3)
    # When the attempts run out
    with pytest.raises(MustWait) as wait:
        with_retries(flaky, RetryPolicy(attempts=3), sleep=lambda _: None)
    # Then the event is to wait (at least the server's Retry-After), not to fail
    assert flaky.calls == 3
    assert wait.value.seconds >= 5
    assert wait.value.reason == "slack_rate_limited"


def test_a_throttled_wait_longer_than_max_delay_is_waited_in_the_queue() -> None:
    flaky = Flaky([TransientFailure("api_http_429", retry_after=120, throttled=True)])
    with pytest.raises(MustWait) as wait:
        with_retries(flaky, RetryPolicy(max_delay=20), sleep=lambda _: pytest.fail("slept"))
    assert 120 <= wait.value.seconds <= 120 + RetryPolicy().base_delay


def test_the_last_attempts_failure_is_raised() -> None:
    flaky = Flaky([TransientFailure(str(n)) for n in range(5)])
    with pytest.raises(TransientFailure, match=r"^2$"):
        with_retries(flaky, RetryPolicy(attempts=3), sleep=lambda _: None)
    assert flaky.calls == 3


def test_a_wait_longer_than_max_delay_is_left_to_lambda() -> None:
    flaky = Flaky([TransientFailure("a", retry_after=60)])
    with pytest.raises(TransientFailure):
        with_retries(flaky, RetryPolicy(max_delay=20), sleep=lambda _: pytest.fail("slept"))
    assert flaky.calls == 1


def test_a_wait_that_does_not_fit_in_the_time_left_is_not_taken() -> None:
    flaky = Flaky([TransientFailure("a", retry_after=5)])
    with pytest.raises(TransientFailure):
        with_retries(flaky, time_left=lambda: 6.5, sleep=lambda _: pytest.fail("slept"))
    # with the margin (2 s) it fits
    assert (
        with_retries(
            Flaky([TransientFailure("a", retry_after=5)]),
            time_left=lambda: 7.5,
            sleep=lambda _: None,
        )
        == "done"
    )


def test_a_permanent_failure_is_never_retried() -> None:
    flaky = Flaky([PermanentFailure("no")])
    with pytest.raises(PermanentFailure):
        with_retries(flaky, sleep=lambda _: pytest.fail("slept"))
    assert flaky.calls == 1


def test_without_a_sleep_it_waits_through_the_one_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry, "pause", waits.append)
    with_retries(Flaky([TransientFailure("a", retry_after=1)]))
    assert len(waits) == 1
    assert 1 <= waits[0] <= 1 + RetryPolicy().base_delay
