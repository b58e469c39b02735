"""Decide who is told what about one ROUND0 event, and tell them once.

`interview_started` -> an email to the job's hiring managers, unless the interview is
already completed (a late, out-of-order delivery). `interview_ended` -> a Slack
message, and an email too when the stack asks for it. Each channel is one side effect,
done at most once per ROUND0 event id (`run_once`), retried inside the invocation on a
`TransientFailure`. Channels are independent: one failing does not stop the other.
Afterwards, a transient failure is raised (Lambda retries the event; channels already
done are not repeated), else a permanent one (the event is dead-lettered at once).
A channel that is not configured is skipped with one log line.

Knows nothing of Lambda, boto3 or HTTP: adapters come in through the constructor.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from round0.consumer import DONE, DUPLICATE, ConsumerEvent, Handled, TimeLeft, skipped
from round0.events import EventType, known_type
from round0.failures import PermanentFailure, TransientFailure
from round0.idempotency import RunOnce, SideEffect, idempotency_key, run_once
from round0.interview_state import InterviewStateReader, newer_state
from round0.links import DEFAULT_APP_URL
from round0.observability import Metric, count_by, logger
from round0.pacing import MustWait
from round0.retry import RetryPolicy, with_retries
from round0_notify.messages import (
    EmailContent,
    ended_email,
    ended_slack_message,
    started_email,
)
from round0_notify.reading import InterviewData, read_created, read_data


class Channel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"


class MailerPort(Protocol):
    def send(self, content: EmailContent, recipients: Sequence[str]) -> str: ...


class RecipientsPort(Protocol):
    def for_job(self, job_id: str | None) -> tuple[str, ...]: ...


class ChatPort(Protocol):
    def url(self) -> str | None: ...
    def post(self, url: str, message: dict[str, Any]) -> int: ...


@dataclass(frozen=True)
class NotifyPolicy:
    email_on_interview_ended: bool = False
    app_url: str = DEFAULT_APP_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class Notifier:
    def __init__(
        self,
        states: InterviewStateReader,
        mailer: MailerPort | None,
        recipients: RecipientsPort,
        chat: ChatPort,
        policy: NotifyPolicy = NotifyPolicy(),
        once: RunOnce = run_once,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._states = states
        self._mailer = mailer
        self._recipients = recipients
        self._chat = chat
        self._policy = policy
        self._once = once
        self._sleep = sleep

    def notify(self, event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        data = read_data(event)
        logger.append_keys(interview_id=data.interview.id, job_id=data.job.id)
        channels: dict[Channel, Callable[[], SideEffect | None]] = {}
        match known_type(event.event_type):
            case EventType.INTERVIEW_STARTED:
                if self._already_completed(event, data):
                    return skipped("late_start")
                created = read_created(event)
                channels[Channel.EMAIL] = lambda: self._email(
                    data, started_email(data, created, self._policy.app_url, event.is_test)
                )
            case EventType.INTERVIEW_ENDED:
                channels[Channel.SLACK] = lambda: self._slack(data, event.is_test)
                if self._policy.email_on_interview_ended:
                    channels[Channel.EMAIL] = lambda: self._email(
                        data, ended_email(data, self._policy.app_url, event.is_test)
                    )
            case None:
                logger.info("no notification for this event type", reason="unknown_event_type")
                return skipped("unknown_event_type")
        return self._deliver(event.event_id, channels, time_left)

    def _already_completed(self, event: ConsumerEvent, data: InterviewData) -> bool:
        state = newer_state(event.event_type, data.interview.id, self._states)
        if state is None:
            return False
        logger.info(
            "no email: the interview state is newer than this late interview_started",
            reason=f"interview_already_{state.status.name.lower()}",
            state_event_id=state.latest_event_id,
        )
        return True

    def _email(self, data: InterviewData, content: EmailContent) -> SideEffect | None:
        mailer = self._mailer
        if mailer is None:
            _skip(Channel.EMAIL, "no sender configured")
            return None
        recipients = self._recipients.for_job(data.job.id)
        if not recipients:
            _skip(Channel.EMAIL, "no recipients for this job")
            return None

        def send() -> dict[str, Any]:
            return {"message_id": mailer.send(content, recipients), "recipients": len(recipients)}

        return send

    def _slack(self, data: InterviewData, test: bool) -> SideEffect | None:
        url = self._chat.url()
        if url is None:
            _skip(Channel.SLACK, "no webhook URL configured")
            return None
        message = ended_slack_message(data, self._policy.app_url, test)

        def post() -> dict[str, Any]:
            return {"status": self._chat.post(url, message)}

        return post

    def _deliver(
        self,
        event_id: str,
        channels: dict[Channel, Callable[[], SideEffect | None]],
        time_left: TimeLeft,
    ) -> Handled:
        transient: list[TransientFailure] = []
        permanent: list[PermanentFailure] = []
        waits: list[MustWait] = []
        outcomes: list[Handled] = []
        for channel, prepare in channels.items():
            try:
                outcomes.append(self._deliver_once(event_id, channel, prepare, time_left))
            except MustWait as wait:
                # the channel's pace (or its 429): the event comes back later, not failed
                waits.append(wait)
            except TransientFailure as failure:
                logger.warning(
                    "notification failed, will retry", channel=channel, reason=failure.reason
                )
                transient.append(failure)
            except PermanentFailure as failure:
                logger.warning("notification refused", channel=channel, reason=failure.reason)
                permanent.append(failure)
        if transient:
            reasons = "; ".join([*(f.reason for f in transient), *(f.reason for f in permanent)])
            raise TransientFailure(reasons, transient[0].retry_after)
        if waits:  # before a permanent failure: the waiting channel is done first
            raise MustWait(max(w.seconds for w in waits), "; ".join(w.reason for w in waits))
        if permanent:
            raise PermanentFailure("; ".join(failure.reason for failure in permanent))
        if DONE in outcomes:
            return DONE
        if DUPLICATE in outcomes:
            return DUPLICATE
        return skipped("not_configured")

    def _deliver_once(
        self,
        event_id: str,
        channel: Channel,
        prepare: Callable[[], SideEffect | None],
        time_left: TimeLeft,
    ) -> Handled:
        action = prepare()
        if action is None:
            return skipped("not_configured")
        ran = False

        def attempt() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return with_retries(action, self._policy.retry, time_left=time_left, sleep=self._sleep)

        self._once(idempotency_key(event_id, channel), attempt)
        if ran:
            logger.info("notification sent", channel=channel)
            count_by(Metric.SENT, "channel", channel)
            return DONE
        logger.info("notification already sent for this event", channel=channel)
        return DUPLICATE


def _skip(channel: Channel, why: str) -> None:
    logger.info("channel not configured, skipped", channel=channel, reason=why)
