"""Rendering of the notifications: content, escaping, rounding, missing optional fields."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from round0.consumer import ConsumerEvent
from round0.links import interview_page_url
from round0_notify.messages import (
    ended_email,
    ended_slack_message,
    format_duration,
    one_line,
    rounded_minutes,
    slack_escape,
    started_email,
    summarize,
)
from round0_notify.reading import InterviewData, read_created, read_data
from round0_testkit.events import load_bus_event

CREATED = datetime.fromtimestamp(1640000000, UTC)


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_bus_event(name)["detail"])


def data_of(detail: dict[str, Any]) -> InterviewData:
    return read_data(ConsumerEvent(detail["id"], detail["type"], detail))


def slack_texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn text of a Block Kit message, the fallback `text` first."""
    texts = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(field["text"] for field in block.get("fields", []))
        texts.extend(element["text"] for element in block.get("elements", []))
    return texts


# ------------------------------------------------------------------ the started email
def test_started_email_has_the_seeds_content_in_text_and_html() -> None:
    email = started_email(data_of(sample("interview_started.json")), CREATED)
    assert email.subject == "Jane Smith started screening for Senior Frontend Developer"
    assert email.text.splitlines()[2:6] == [
        "Candidate: Jane Smith",
        "Job: Senior Frontend Developer",
        "Started: 2024-01-16 14:30 UTC",
        "Estimated duration: 15 minutes",
    ]
    assert '<th align="left" style="padding:2px 12px 2px 0">Estimated duration</th>' in (email.html)
    assert "<td>15 minutes</td>" in email.html
    link = "https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"
    assert f"Interview: {link}" in email.text
    assert f'<a href="{link}">' in email.html


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(900, 15), (89, 1), (90, 2), (150, 3), (29, 0), (30, 1), (0, 0), (3599, 60)],
)
def test_estimated_duration_is_rounded_half_up_like_the_seed(seconds: int, minutes: int) -> None:
    assert rounded_minutes(seconds) == minutes
    detail = sample("interview_started.json")
    detail["data"]["interview"]["estimated_duration_seconds"] = seconds
    email = started_email(data_of(detail), CREATED)
    assert f"Estimated duration: {minutes} minutes" in email.text


def test_started_email_without_duration_or_start_time_uses_what_it_has() -> None:
    detail = sample("interview_started.json")
    del detail["data"]["interview"]["estimated_duration_seconds"]
    del detail["data"]["interview"]["started_at"]
    email = started_email(data_of(detail), CREATED)
    assert "Estimated duration" not in email.text
    assert "Estimated duration" not in email.html
    assert "Started: 2021-12-20 11:33 UTC" in email.text  # the event's `created`


def test_every_value_is_html_escaped_in_the_html_part() -> None:
    detail = sample("interview_started.json")
    detail["data"]["candidate"]["name"] = "<script>alert('x')</script>"
    detail["data"]["job"]["title"] = 'Dev "R&D" <b>'
    detail["data"]["interview"]["id"] = 'id"><script>'
    email = started_email(data_of(detail), CREATED)
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in email.html
    assert "Dev &quot;R&amp;D&quot; &lt;b&gt;" in email.html
    assert 'href="https://rz-app-omega.vercel.app/interviews/id%22%3E%3Cscript%3E"' in email.html
    # the text part is plain text: shown as typed
    assert "Candidate: <script>alert('x')</script>" in email.text


def test_candidate_text_cannot_add_lines_or_headers() -> None:
    detail = sample("interview_started.json")
    detail["data"]["candidate"]["name"] = "Jane\r\nBcc: everyone@example.com\n\tSmith"
    email = started_email(data_of(detail), CREATED)
    assert email.subject == (
        "Jane Bcc: everyone@example.com Smith started screening for Senior Frontend Developer"
    )
    assert "\n" not in email.subject
    assert "Candidate: Jane Bcc: everyone@example.com Smith" in email.text.splitlines()


def test_very_long_values_are_shortened() -> None:
    assert one_line("x" * 500) == "x" * 199 + "…"
    assert len(one_line("word " * 100)) <= 200


# ------------------------------------------------------------------ the Slack message
def test_ended_slack_message_summarises_the_interview() -> None:
    message = ended_slack_message(data_of(sample("interview_ended.json")))
    assert message["text"] == "Jane Smith completed screening for Senior Frontend Developer"
    assert [block["type"] for block in message["blocks"]] == [
        "section",
        "section",
        "section",
        "context",
    ]
    assert message["blocks"][0]["text"] == {
        "type": "mrkdwn",
        "text": "*Jane Smith* completed screening for *Senior Frontend Developer*",
    }
    assert [field["text"] for field in message["blocks"][1]["fields"]] == [
        "*Answers*\n2",
        "*Total answer time*\n5 min 12 s",
        "*Average AI score*\n88.5 / 100",
        "*Completed*\n2024-01-16 14:52 UTC",
    ]
    assert message["blocks"][2]["text"]["text"] == (
        "<https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"
        "|Open the interview in ROUND0>"
    )
    assert message["blocks"][3]["elements"][0]["text"] == "Engineering · Remote"


def test_slack_escaping_keeps_mentions_and_links_inert() -> None:
    assert slack_escape("<!channel> & <@U1|bob> <https://x|y>") == (
        "&lt;!channel&gt; &amp; &lt;@U1|bob&gt; &lt;https://x|y&gt;"
    )
    detail = sample("interview_ended.json")
    detail["data"]["candidate"]["name"] = "<!channel>"
    detail["data"]["job"]["title"] = "<!here> & <!everyone>"
    detail["data"]["job"]["department"] = "<!subteam^S1>"
    detail["data"]["interview"]["id"] = "x|<!channel>"
    message = ended_slack_message(data_of(detail))
    for text in slack_texts(message):
        assert "<!" not in text, text
    assert (
        message["text"]
        == "&lt;!channel&gt; completed screening for &lt;!here&gt; &amp; &lt;!everyone&gt;"
    )
    # the link's only control characters are its own; the id is quoted into the URL
    assert message["blocks"][2]["text"]["text"] == (
        "<https://rz-app-omega.vercel.app/interviews/x%7C%3C%21channel%3E"
        "|Open the interview in ROUND0>"
    )


def test_null_scores_are_left_out_of_the_average() -> None:
    detail = sample("interview_ended.json")
    detail["data"]["responses"][0]["score"] = None
    message = ended_slack_message(data_of(detail))
    assert "*Average AI score*\n92 / 100" in slack_texts(message)


def test_no_scores_means_no_average_line() -> None:
    detail = sample("interview_ended.json")
    for response in detail["data"]["responses"]:
        response["score"] = None
    message = ended_slack_message(data_of(detail))
    assert not any("Average AI score" in text for text in slack_texts(message))
    email = ended_email(data_of(detail))
    assert "Average AI score" not in email.text
    assert "Average AI score" not in email.html


def test_no_responses_at_all() -> None:
    detail = sample("interview_ended.json")
    del detail["data"]["responses"]
    data = data_of(detail)
    assert summarize(data.responses).answers == 0
    texts = slack_texts(ended_slack_message(data))
    assert "*Answers*\n0" in texts
    assert "*Total answer time*\n0 s" in texts
    assert not any("Average" in text for text in texts)


def test_the_dashboard_test_event_renders_without_optional_fields() -> None:
    data = data_of(sample("dashboard_test_event.json"))
    message = ended_slack_message(data)
    texts = slack_texts(message)
    assert "*Answers*\n1" in texts
    assert "*Total answer time*\n2 min 0 s" in texts
    assert not any("Average" in text for text in texts)
    json.dumps(message)  # serialisable as posted


def test_missing_department_and_location_drop_the_context_block() -> None:
    detail = sample("interview_ended.json")
    detail["data"]["job"]["department"] = None
    del detail["data"]["job"]["location"]
    message = ended_slack_message(data_of(detail))
    assert [block["type"] for block in message["blocks"]] == ["section", "section", "section"]


def test_average_score_is_rounded_to_one_decimal() -> None:
    detail = sample("interview_ended.json")
    for response, score in zip(detail["data"]["responses"], [85, 90], strict=True):
        response["score"] = score
    detail["data"]["responses"].append({**detail["data"]["responses"][0], "score": 90})
    texts = slack_texts(ended_slack_message(data_of(detail)))
    assert "*Average AI score*\n88.3 / 100" in texts


# ------------------------------------------------------------------ the ended email
def test_ended_email_has_both_parts() -> None:
    email = ended_email(data_of(sample("interview_ended.json")))
    assert email.subject == "Jane Smith completed screening for Senior Frontend Developer"
    assert "Answers: 2" in email.text
    assert "Total answer time: 5 min 12 s" in email.text
    assert "<td>88.5 / 100</td>" in email.html


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (45, "45 s"), (60, "1 min 0 s"), (312, "5 min 12 s"), (3725, "1 h 02 min")],
)
def test_format_duration(seconds: int, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_interview_url_keeps_an_opaque_id_in_one_segment() -> None:
    assert interview_page_url("test-interview-id") == (
        "https://rz-app-omega.vercel.app/interviews/test-interview-id"
    )
    assert interview_page_url("a/b?c", "http://127.0.0.1:8080/") == (
        "http://127.0.0.1:8080/interviews/a%2Fb%3Fc"
    )


# ------------------------------------------------------------------ what the event leaves out
def test_a_candidate_without_a_name_is_a_candidate() -> None:
    # Given an event whose candidate is null
    detail = sample("interview_ended.json")
    detail["data"]["candidate"] = None
    data = data_of(detail)
    # Then every message still goes out, naming "A candidate"
    assert (
        ended_email(data).subject == "A candidate completed screening for Senior Frontend Developer"
    )
    assert "Candidate: A candidate" in ended_email(data).text.splitlines()
    assert ended_slack_message(data)["text"] == (
        "A candidate completed screening for Senior Frontend Developer"
    )
    assert started_email(data, CREATED).subject.startswith("A candidate started screening")


def test_an_event_without_a_job_says_nothing_of_one() -> None:
    # Given an event with no job at all
    detail = sample("interview_ended.json")
    del detail["data"]["job"]
    data = data_of(detail)
    # Then the headline stops at "screening", no Job row and no context block
    email = ended_email(data)
    assert email.subject == "Jane Smith completed screening"
    assert not any(line.startswith("Job:") for line in email.text.splitlines())
    assert ">Candidate<" in email.html
    assert ">Job<" not in email.html
    message = ended_slack_message(data)
    assert message["text"] == "Jane Smith completed screening"
    assert message["blocks"][0]["text"]["text"] == "*Jane Smith* completed screening"
    assert [block["type"] for block in message["blocks"]] == ["section", "section", "section"]


def test_an_event_without_an_interview_id_has_no_link() -> None:
    detail = sample("interview_ended.json")
    del detail["data"]["interview"]["id"]
    data = data_of(detail)
    email = ended_email(data)
    assert "Interview:" not in email.text
    assert "<a href" not in email.html
    texts = slack_texts(ended_slack_message(data))
    assert not any("Open the interview" in text for text in texts)


def test_a_start_with_no_time_at_all_has_no_started_row() -> None:
    detail = sample("interview_started.json")
    del detail["data"]["interview"]["started_at"]
    email = started_email(data_of(detail), None)
    assert not any(line.startswith("Started") for line in email.text.splitlines())


def test_a_numeric_interview_id_links_to_its_page() -> None:
    detail = sample("interview_started.json")
    detail["data"]["interview"]["id"] = 660
    email = started_email(data_of(detail), CREATED)
    assert "Interview: https://rz-app-omega.vercel.app/interviews/660" in email.text


def test_fractional_scores_and_durations_are_shown_rounded() -> None:
    # Given a score of 4.5 and durations that are fractions, strings or null
    detail = sample("interview_ended.json")
    detail["data"]["responses"] = [
        {"score": 4.5, "duration_seconds": 60.4},
        {"score": "90", "duration_seconds": None},
        {"score": None, "duration_seconds": "12"},
    ]
    texts = slack_texts(ended_slack_message(data_of(detail)))
    # Then each counts as what it says, and the totals are shown as usual
    assert "*Answers*\n3" in texts
    assert "*Total answer time*\n1 min 12 s" in texts
    assert "*Average AI score*\n47.2 / 100" in texts  # (4.5 + 90) / 2 = 47.25


def test_durations_near_the_largest_float_still_make_a_message() -> None:
    # (a regression: their float sum was infinity, which round() refused)
    detail = sample("interview_ended.json")
    detail["data"]["responses"] = [{"duration_seconds": 1e308}, {"duration_seconds": 1e308}]
    data = data_of(detail)
    assert summarize(data.responses).total_answer_seconds > 10**308
    json.dumps(ended_slack_message(data))


@pytest.mark.parametrize(
    "created",
    [1640000000, 1640000000000, "1640000000", "2021-12-20T11:33:20Z", "2021-12-20T12:33:20+01:00"],
)
def test_a_start_shows_the_events_created_time_in_any_common_format(created: Any) -> None:
    # Given a start without its own start time, created in seconds, milliseconds or ISO 8601
    detail = sample("interview_started.json")
    del detail["data"]["interview"]["started_at"]
    detail["created"] = created
    event = ConsumerEvent(detail["id"], detail["type"], detail)
    # Then the email shows when the event was created
    email = started_email(read_data(event), read_created(event))
    assert "Started: 2021-12-20 11:33 UTC" in email.text.splitlines()
