"""Settings and composition root of the notifications consumer."""

from functools import cache

from round0.consumer import DeadLetterQueue
from round0.http import Timeouts
from round0.links import DEFAULT_APP_URL
from round0.pacing import DynamoSlots, Pacer, Rate
from round0.retry import RetryPolicy
from round0.secrets import parameter_value, secret_value
from round0.settings import FunctionSettings, load_settings, setting
from round0.state_store import InterviewStates
from round0_notify.mailer import SesMailer
from round0_notify.recipients import RecipientDirectory, parse_address_list
from round0_notify.service import Notifier, NotifyPolicy
from round0_notify.slack import SlackWebhook


class NotifySettings(FunctionSettings):
    events_table_name: str
    dead_letter_queue_url: str
    # email: a verified SES identity to send from; unset = no email
    notification_sender: str | None = None
    hiring_manager_emails: str = ""
    recipient_routing_parameter: str | None = None
    email_on_interview_ended: bool = False
    # Slack: the secret holding the incoming webhook's URL; unset = no Slack
    slack_webhook_secret_id: str | None = None
    slack_timeout_seconds: float = 5.0
    # how long a read secret / routing map is reused before it is read again
    config_max_age_seconds: int = 60
    round0_app_url: str = DEFAULT_APP_URL
    retry_attempts: int = 4
    retry_max_delay_seconds: float = 20.0
    # the pace of each channel, shared by every invocation (round0.pacing)
    slack_messages_per_second: float = setting(default=1.0, gt=0)
    ses_send_rate_per_second: float = setting(default=1.0, gt=0)


@cache
def dead_letters() -> DeadLetterQueue:
    return DeadLetterQueue(load_settings(NotifySettings).dead_letter_queue_url)


@cache
def notifier() -> Notifier:
    config = load_settings(NotifySettings)
    max_age = config.config_max_age_seconds
    slots = DynamoSlots(config.events_table_name)
    return Notifier(
        states=InterviewStates(config.events_table_name),
        mailer=(
            SesMailer(
                config.notification_sender,
                pacer=Pacer("ses", Rate(config.ses_send_rate_per_second), slots),
            )
            if config.notification_sender
            else None
        ),
        recipients=RecipientDirectory(
            default=parse_address_list(config.hiring_manager_emails),
            routing=(
                parameter_value(config.recipient_routing_parameter, max_age)
                if config.recipient_routing_parameter
                else None
            ),
        ),
        chat=SlackWebhook(
            (
                secret_value(config.slack_webhook_secret_id, max_age)
                if config.slack_webhook_secret_id
                else None
            ),
            timeouts=Timeouts(config.slack_timeout_seconds, config.slack_timeout_seconds),
            pacer=Pacer("slack", Rate(config.slack_messages_per_second), slots),
        ),
        policy=NotifyPolicy(
            email_on_interview_ended=config.email_on_interview_ended,
            app_url=config.round0_app_url,
            retry=RetryPolicy(
                attempts=config.retry_attempts, max_delay=config.retry_max_delay_seconds
            ),
        ),
    )
