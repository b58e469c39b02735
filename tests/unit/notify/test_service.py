"""The Notifier's decisions, with fake ports: which channel, when, once, and what fails."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from round0.consumer import ConsumerEvent
from round0.events import InterviewStatus
from round0.failures import PermanentFailure, TransientFailure
from round0.records import InterviewState
from round0.retry import RetryPolicy
from round0_notify.messages import EmailContent
from round0_notify.service import Notifier, NotifyPolicy
from round0_testkit.events import load_bus_event

STARTED = "interview_started.json"
ENDED = "interview_ended.json"


def event(name: str) -> ConsumerEvent:
    document = copy.deepcopy(load_bus_event(name)["detail"])
    return ConsumerEvent(document["id"], document["type"], document)


class FakeStates:
    def __init__(self, status: InterviewStatus | None = None) -> None:
        self.status = status
        self.asked: list[str] = []

    def get(self, interview_id: str) -> InterviewState | None:
        self.asked.append(interview_id)
        if self.status is None:
            return None
        return InterviewState(
            interview_id=interview_id,
            status=self.status,
            latest_event_id="evt_newer",
        )


class FakeMailer:
    def __init__(self, failures: Sequence[Exception] = ()) -> None:
        self.failures = list(failures)
        self.sent: list[tuple[EmailContent, tuple[str, ...]]] = []

    def send(self, content: EmailContent, recipients: Sequence[str]) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((content, tuple(recipients)))
        return f"msg-{len(self.sent)}"


class FakeRecipients:
    def __init__(self, recipients: tuple[str, ...] = ("lead@example.com",)) -> None:
        self.recipients = recipients

        self.asked: list[str | None] = []

    def for_job(self, job_id: str | None) -> tuple[str, ...]:
        self.asked.append(job_id)
        return self.recipients


class FakeChat:
    def __init__(
        self, url: str | None = "https://hooks.example/x", failures: Sequence[Exception] = ()
    ) -> None:
        self._url = url
        self.failures = list(failures)
        self.posted: list[dict[str, Any]] = []

    def url(self) -> str | None:
        return self._url

    def post(self, url: str, message: dict[str, Any]) -> int:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append(message)
        return 200


class MemoryOnce:
    """run_once over a dict: the stored result of a key is returned, its action not run."""

    def __init__(self) -> None:
        self.done: dict[str, dict[str, Any]] = {}

    def __call__(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.done:
            self.done[key] = action()  # an exception stores nothing, as Powertools does
        return self.done[key]


def build(
    *,
    states: FakeStates | None = None,
    mailer: FakeMailer | None = None,
    chat: FakeChat | None = None,
    recipients: FakeRecipients | None = None,
    email_on_ended: bool = False,
    sleeps: list[float] | None = None,
    once: MemoryOnce | None = None,
) -> Notifier:
    return Notifier(
        states=states or FakeStates(),
        mailer=mailer,
        recipients=recipients or FakeRecipients(),
        chat=chat or FakeChat(),
        policy=NotifyPolicy(email_on_interview_ended=email_on_ended, retry=RetryPolicy(attempts=3)),
        once=once or MemoryOnce(),
        sleep=(sleeps if sleeps is not None else []).append,
    )


def plenty() -> float:
    return 60.0


def test_started_emails_and_does_not_post() -> None:
    mailer, chat = FakeMailer(), FakeChat()
    build(mailer=mailer, chat=chat).notify(event(STARTED), plenty)
    [(content, to)] = mailer.sent
    assert content.subject.endswith("started screening for Senior Frontend Developer")
    assert to == ("lead@example.com",)
    assert chat.posted == []


@pytest.mark.parametrize("status", [InterviewStatus.COMPLETED, InterviewStatus.EXPIRED])
def test_started_after_a_newer_state_sends_nothing(status: InterviewStatus) -> None:
    mailer = FakeMailer()
    build(states=FakeStates(status), mailer=mailer).notify(event(STARTED), plenty)
    assert mailer.sent == []


@pytest.mark.parametrize("status", [None, InterviewStatus.INVITED, InterviewStatus.IN_PROGRESS])
def test_started_with_an_older_or_no_state_is_sent(status: InterviewStatus | None) -> None:
    mailer = FakeMailer()
    build(states=FakeStates(status), mailer=mailer).notify(event(STARTED), plenty)
    assert len(mailer.sent) == 1


def test_ended_posts_and_emails_only_when_asked() -> None:
    mailer, chat = FakeMailer(), FakeChat()
    build(mailer=mailer, chat=chat).notify(event(ENDED), plenty)
    assert (len(chat.posted), len(mailer.sent)) == (1, 0)
    build(mailer=mailer, chat=chat, email_on_ended=True).notify(event(ENDED), plenty)
    assert (len(chat.posted), len(mailer.sent)) == (2, 1)


def test_each_channel_runs_once_per_event_id() -> None:
    once, mailer, chat = MemoryOnce(), FakeMailer(), FakeChat()
    notifier = build(once=once, mailer=mailer, chat=chat, email_on_ended=True)
    for _ in range(3):
        notifier.notify(event(ENDED), plenty)
    assert (len(chat.posted), len(mailer.sent)) == (1, 1)
    assert sorted(once.done) == [
        "email#evt_660f9511f30c52e5b827557766551111",
        "slack#evt_660f9511f30c52e5b827557766551111",
    ]
    assert all("Jane" not in str(result) for result in once.done.values())  # no personal data


def test_unconfigured_channels_are_skipped_without_a_record() -> None:
    once = MemoryOnce()
    notifier = build(once=once, mailer=None, chat=FakeChat(url=None), email_on_ended=True)
    notifier.notify(event(ENDED), plenty)
    notifier = build(once=once, mailer=FakeMailer(), recipients=FakeRecipients(()))
    notifier.notify(event(STARTED), plenty)
    assert once.done == {}  # configured later, a redriven event is still sent


def test_transient_failures_are_retried_within_the_invocation() -> None:
    sleeps: list[float] = []
    chat = FakeChat(failures=[TransientFailure("slack_rate_limited", retry_after=2)])
    build(chat=chat, sleeps=sleeps).notify(event(ENDED), plenty)
    assert len(chat.posted) == 1
    assert len(sleeps) == 1
    assert 2 <= sleeps[0] <= 2 + RetryPolicy().base_delay


def test_a_transient_failure_left_after_the_attempts_is_raised_and_nothing_recorded() -> None:
    once = MemoryOnce()
    chat = FakeChat(failures=[TransientFailure("slack_unavailable:503 x")] * 3)
    with pytest.raises(TransientFailure, match="slack_unavailable"):
        build(chat=chat, once=once).notify(event(ENDED), plenty)
    assert once.done == {}


def test_permanent_failures_are_not_retried() -> None:
    sleeps: list[float] = []
    chat = FakeChat(failures=[PermanentFailure("slack_rejected:404 no_service")])
    with pytest.raises(PermanentFailure, match="slack_rejected:404 no_service"):
        build(chat=chat, sleeps=sleeps).notify(event(ENDED), plenty)
    assert sleeps == []


def test_channels_fail_independently_and_a_transient_failure_wins() -> None:
    mailer = FakeMailer(failures=[PermanentFailure("ses_rejected:MessageRejected")])
    chat = FakeChat(failures=[TransientFailure("slack_timeout")] * 3)
    with pytest.raises(TransientFailure) as raised:
        build(mailer=mailer, chat=chat, email_on_ended=True).notify(event(ENDED), plenty)
    assert raised.value.reason == "slack_timeout; ses_rejected:MessageRejected"


def test_one_channel_failing_still_lets_the_other_send() -> None:
    mailer = FakeMailer()
    chat = FakeChat(failures=[PermanentFailure("slack_rejected:410 channel_is_archived")])
    with pytest.raises(PermanentFailure):
        build(mailer=mailer, chat=chat, email_on_ended=True).notify(event(ENDED), plenty)
    assert len(mailer.sent) == 1


def test_no_wait_longer_than_the_invocation_has_left() -> None:
    sleeps: list[float] = []
    chat = FakeChat(failures=[TransientFailure("slack_rate_limited", retry_after=5)])
    with pytest.raises(TransientFailure):
        build(chat=chat, sleeps=sleeps).notify(event(ENDED), lambda: 6.0)
    assert sleeps == []
    assert chat.posted == []


def test_an_unknown_event_type_is_ignored() -> None:
    mailer, chat = FakeMailer(), FakeChat()
    unknown = ConsumerEvent("evt_x", "interview_expired", {"id": "evt_x", "data": {}})
    build(mailer=mailer, chat=chat).notify(unknown, plenty)
    assert (mailer.sent, chat.posted) == ([], [])


def test_an_event_without_a_job_goes_to_the_default_recipients() -> None:
    # Given a start that names no job
    started = event(STARTED)
    del started.document["data"]["job"]
    mailer, recipients = FakeMailer(), FakeRecipients()
    # When it is notified
    build(mailer=mailer, recipients=recipients).notify(started, plenty)
    # Then the route is asked for no job (the default list), and the email still goes out
    assert recipients.asked == [None]
    [(content, to)] = mailer.sent
    assert content.subject == "Jane Smith started screening"
    assert to == ("lead@example.com",)


def test_a_numeric_job_id_is_routed_by_its_text() -> None:
    started = event(STARTED)
    started.document["data"]["job"]["id"] = 42
    recipients = FakeRecipients()
    build(mailer=FakeMailer(), recipients=recipients).notify(started, plenty)
    assert recipients.asked == ["42"]


def test_a_late_start_is_found_by_a_numeric_interview_id() -> None:
    started = event(STARTED)
    started.document["data"]["interview"]["id"] = 660
    states, mailer = FakeStates(InterviewStatus.COMPLETED), FakeMailer()
    handled = build(states=states, mailer=mailer).notify(started, plenty)
    assert states.asked == ["660"]
    assert handled.reason == "late_start"
    assert mailer.sent == []


@pytest.mark.parametrize("created", [1640000000000, "2021-12-20T11:33:20Z"])
def test_a_start_without_its_own_time_shows_when_the_event_was_created(created: Any) -> None:
    started = event(STARTED)
    del started.document["data"]["interview"]["started_at"]
    started.document["created"] = created
    mailer = FakeMailer()
    build(mailer=mailer).notify(started, plenty)
    [(content, _)] = mailer.sent
    assert "Started: 2021-12-20 11:33 UTC" in content.text.splitlines()


@pytest.mark.parametrize("data", [None, {}, {"interview": None, "candidate": None, "job": None}])
def test_an_ended_event_with_nothing_in_it_is_still_posted(data: Any) -> None:
    # Given an interview_ended whose data is null or empty
    ended = ConsumerEvent("evt_1", "interview_ended", {"id": "evt_1", "data": data})
    chat = FakeChat()
    # When it is notified, Then the message goes out with what there is
    build(chat=chat).notify(ended, plenty)
    [message] = chat.posted
    assert message["text"] == "A candidate completed screening"
