"""The Slack stand-in answers like Slack's incoming webhooks, and records every request."""

from __future__ import annotations

import requests

from round0_testkit.standins.slack import SlackStandIn


def test_it_answers_like_slack(slack: SlackStandIn) -> None:
    ok = requests.post(slack.webhook_url, json={"text": "hi"}, timeout=5)
    no_text = requests.post(slack.webhook_url, json={"username": "x"}, timeout=5)
    not_json = requests.post(slack.webhook_url, data=b"text=hi", timeout=5)
    unknown = requests.post(
        slack.base_url + "/services/T/B/unknown", json={"text": "hi"}, timeout=5
    )
    got = requests.get(slack.webhook_url, timeout=5)
    assert [(r.status_code, r.text) for r in (ok, no_text, not_json, unknown, got)] == [
        (200, "ok"),
        (400, "no_text"),
        (400, "invalid_payload"),
        (404, "no_service"),
        (405, "invalid_method"),
    ]
    assert [(r.method, r.path) for r in slack.requests][:2] == [
        ("POST", "/services/T00000000/B00000000/local0webhook0secret0000"),
        ("POST", "/services/T00000000/B00000000/local0webhook0secret0000"),
    ]
    assert slack.requests[0].json() == {"text": "hi"}
    assert slack.requests[0].headers["Content-Type"] == "application/json"


def test_faults_are_answered_in_order_then_it_recovers(slack: SlackStandIn) -> None:
    slack.rate_limit(times=1, retry_after=7)
    slack.server_error(times=1, status=502)
    slack.reject("channel_is_archived")
    answers = [requests.post(slack.webhook_url, json={"text": "hi"}, timeout=5) for _ in range(4)]
    assert [(r.status_code, r.text) for r in answers] == [
        (429, "rate_limited"),
        (502, "rollup_error"),
        (410, "channel_is_archived"),
        (200, "ok"),
    ]
    assert answers[0].headers["Retry-After"] == "7"
    assert len(slack.messages()) == 4


def test_a_hang_holds_the_answer_until_the_client_gives_up(slack: SlackStandIn) -> None:
    slack.hang()
    try:
        requests.post(slack.webhook_url, json={"text": "hi"}, timeout=0.2)
    except requests.Timeout:
        timed_out = True
    else:
        timed_out = False
    assert timed_out
    assert requests.post(slack.webhook_url, json={"text": "again"}, timeout=5).status_code == 200
    assert [message["text"] for message in slack.messages()] == ["hi", "again"]
