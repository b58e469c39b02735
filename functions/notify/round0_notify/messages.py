"""What people are told: the hiring-manager emails and the Slack message. Pure functions.

Every value shown comes from the event, which the candidate partly controls (name,
and anything ROUND0 echoes back): it is collapsed to one line and shortened, then
escaped for where it goes, HTML-escaped in the HTML part and Slack-escaped (`&`, `<`,
`>`) in mrkdwn, so a name like `<!channel>` is shown, never acted upon.
"""

import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from round0.links import DEFAULT_APP_URL, interview_page_url
from round0_notify.reading import Answer, InterviewData

MAX_VALUE_CHARS = 200
_ELLIPSIS = "…"
# ROUND0's dashboard sends test events: they reach people marked as what they are
TEST_PREFIX = "[TEST] "
TEST_NOTE = "A test event sent from ROUND0's dashboard: no candidate is involved."
# what a message says when the event leaves a part out (it still goes out)
UNNAMED_CANDIDATE = "A candidate"


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Summary:
    """The facts of a completed interview, as shown in Slack and in the email."""

    answers: int
    total_answer_seconds: int
    average_score: float | None


def one_line(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """`value` on one line (no CR/LF or runs of whitespace), at most `limit` characters."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + _ELLIPSIS


def slack_escape(value: str) -> str:
    """Escape Slack's three control characters; nothing else needs it (Slack's docs)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rounded_minutes(seconds: float) -> int:
    """Minutes rounded half up, as the seed's `Math.round(seconds / 60)` does."""
    return math.floor(seconds / 60 + 0.5)


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(max(round(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_score(score: float) -> str:
    return f"{round(score, 1):g} / 100"


def summarize(responses: list[Answer]) -> Summary:
    scores = [response.score for response in responses if response.score is not None]
    return Summary(
        answers=len(responses),
        # added as decimals: two durations near the largest float would add up to infinity
        total_answer_seconds=round(
            sum((Decimal(response.duration_seconds or 0) for response in responses), Decimal(0))
        ),
        average_score=sum(scores) / len(scores) if scores else None,
    )


def _who_and_what(data: InterviewData, verb: str) -> tuple[str, str | None, str]:
    """The candidate's name, the job's title (None when the event has none) and the
    headline: `<candidate> <verb> screening[ for <job>]`."""
    candidate = one_line(data.candidate.name) if data.candidate.name else UNNAMED_CANDIDATE
    job = one_line(data.job.title) if data.job.title else None
    return candidate, job, f"{candidate} {verb} screening" + (f" for {job}" if job else "")


def _link(data: InterviewData, app_url: str) -> str | None:
    return interview_page_url(data.interview.id, app_url) if data.interview.id else None


def _email(
    subject: str,
    headline: str,
    rows: list[tuple[str, str]],
    link: str | None,
    test: bool = False,
) -> EmailContent:
    """Text and HTML parts of one email; `headline` and `rows` hold unescaped values."""
    if test:
        subject, headline = TEST_PREFIX + subject, TEST_PREFIX + headline
        rows = [("Note", TEST_NOTE), *rows]
    text = "\n".join(
        [
            headline,
            "",
            *(f"{label}: {value}" for label, value in rows),
            *(["", f"Interview: {link}"] if link else []),
        ]
    )
    table = "\n".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    anchor = (
        f'<p><a href="{html.escape(link, quote=True)}">Open the interview in ROUND0</a></p>\n'
        if link
        else ""
    )
    body = (
        '<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n'
        f"<p>{html.escape(headline)}</p>\n<table>\n{table}\n</table>\n"
        f"{anchor}</body></html>\n"
    )
    return EmailContent(subject=subject, text=text + "\n", html=body)


def started_email(
    data: InterviewData,
    created: datetime | None,
    app_url: str = DEFAULT_APP_URL,
    test: bool = False,
) -> EmailContent:
    """`<candidate> started screening for <job title>`, with the seed's content."""
    candidate, job, headline = _who_and_what(data, "started")
    interview = data.interview
    started = format_time(interview.started_at) or format_time(created)
    rows = [("Candidate", candidate), *([("Job", job)] if job else [])]
    if started:
        rows.append(("Started", started))
    if interview.estimated_duration_seconds is not None:
        minutes = rounded_minutes(interview.estimated_duration_seconds)
        rows.append(("Estimated duration", f"{minutes} minutes"))
    return _email(headline, headline + ".", rows, _link(data, app_url), test)


def _summary_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("Answers", str(summary.answers)),
        ("Total answer time", format_duration(summary.total_answer_seconds)),
    ]
    if summary.average_score is not None:
        rows.append(("Average AI score", format_score(summary.average_score)))
    return rows


def ended_email(
    data: InterviewData, app_url: str = DEFAULT_APP_URL, test: bool = False
) -> EmailContent:
    """`<candidate> completed screening for <job title>`, with the interview's summary."""
    candidate, job, headline = _who_and_what(data, "completed")
    rows = [("Candidate", candidate), *([("Job", job)] if job else [])]
    completed = format_time(data.interview.completed_at)
    if completed:
        rows.append(("Completed", completed))
    rows.extend(_summary_rows(summarize(data.responses)))
    return _email(headline, headline + ".", rows, _link(data, app_url), test)


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{slack_escape(value)}"}


def ended_slack_message(
    data: InterviewData, app_url: str = DEFAULT_APP_URL, test: bool = False
) -> dict[str, Any]:
    """The Block Kit message for `interview_ended`; `text` is the notification fallback."""
    name, title, _ = _who_and_what(data, "completed")
    candidate = slack_escape(name)
    job = slack_escape(title) if title else None
    summary = summarize(data.responses)
    fields = [_field(label, value) for label, value in _summary_rows(summary)]
    completed = format_time(data.interview.completed_at)
    if completed:
        fields.append(_field("Completed", completed))
    headline = f"*{candidate}* completed screening" + (f" for *{job}*" if job else "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "section", "fields": fields},
    ]
    link = _link(data, app_url)
    if link:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{link}|Open the interview in ROUND0>"},
            }
        )
    where = [one_line(value) for value in (data.job.department, data.job.location) if value]
    if where:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": slack_escape(" · ".join(where))}],
            }
        )
    text = f"{candidate} completed screening" + (f" for {job}" if job else "")
    if test:
        text = TEST_PREFIX + text
        blocks.insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": TEST_NOTE}]})
    return {"text": text, "blocks": blocks}
