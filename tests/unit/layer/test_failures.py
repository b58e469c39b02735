"""round0.failures: two kinds of failure, each with a reason safe to log and count."""

from round0.failures import PermanentFailure, TransientFailure, reason_code


def test_a_reason_code_is_what_comes_before_the_details() -> None:
    assert reason_code("slack_rejected:404 no_service") == "slack_rejected"
    assert reason_code("api_http_503") == "api_http_503"
    assert reason_code(" incomplete_archive : 1 of 2") == "incomplete_archive"


def test_failures_keep_their_reason_and_the_servers_hint() -> None:
    assert PermanentFailure("no").reason == "no"
    failure = TransientFailure("later", retry_after=2.5)
    assert (failure.reason, failure.retry_after, str(failure)) == ("later", 2.5, "later")
