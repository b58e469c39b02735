"""The outside world of the local pipeline: stand-ins, and the configuration that
points the stack at them.

Everything here reaches the functions the way a deployment would: as template
parameter values and secret values (`TemplateStack.parameters`, `.secret_values`),
never as code paths of their own. The observers of the stand-ins come from here
(`observers_for`); the pipeline adds them to those of `round0_local.observers`.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from round0_local.observers import StandInObserver
from round0_testkit.standins.ats import AtsStandIn
from round0_testkit.standins.round0_api import Round0ApiStandIn
from round0_testkit.standins.slack import SlackStandIn

if TYPE_CHECKING:
    from round0_local.emulator import AwsEmulator
    from round0_local.observers import Observer
    from round0_testkit.standins.recording import RecordingStandIn
    from round0_testkit.template import TemplateStack

LOCAL_SENDER = "round0-local@example.com"
LOCAL_HIRING_MANAGERS = "hiring-manager@example.com"


def signing_secret_value(signing_secret: str) -> str:
    """The SigningSecret's value for one signing secret (none previous)."""
    return json.dumps({"current": signing_secret, "previous": ""})


class LocalIntegrations:
    def __init__(self) -> None:
        self.slack = SlackStandIn()
        self.round0 = Round0ApiStandIn()
        self.ats = AtsStandIn()
        # what the ATS webhook adapter signs with (the template generates it when deployed)
        self.ats_webhook_secret = f"local-{secrets.token_hex(16)}"

    def start(self) -> None:
        for standin in self.standins().values():
            standin.start()

    def stop(self) -> None:
        for standin in self.standins().values():
            standin.stop()

    def standins(self) -> dict[str, RecordingStandIn]:
        """Each stand-in, by the name `addresses` gives it."""
        return {"slack": self.slack, "round0-api": self.round0, "ats": self.ats}

    def addresses(self) -> dict[str, str]:
        """Where each stand-in listens (its `/_standin/faults` control endpoint too)."""
        return {name: standin.base_url for name, standin in self.standins().items()}

    def parameters(self) -> dict[str, str]:
        """Template parameter values of the local stack."""
        return {
            "NotificationSender": LOCAL_SENDER,
            "NotificationSenderIdentity": LOCAL_SENDER,
            "HiringManagerEmails": LOCAL_HIRING_MANAGERS,
            "Round0ApiBaseUrl": self.round0.api_base_url,
            "AudioHostAllowlist": self.round0.origin,
            "AtsAdapter": "webhook",
        }

    def secret_values(self, signing_secret: str) -> dict[str, str]:
        return {
            "SigningSecret": signing_secret_value(signing_secret),
            "NotifySlackWebhook": json.dumps({"webhook_url": self.slack.webhook_url}),
            "Round0ApiKey": json.dumps({"api_key": self.round0.api_key}),
            # the receiver's URL is kept with the signing secret, as when deployed
            "AtsWebhookSigningSecret": json.dumps(
                {"current": self.ats_webhook_secret, "previous": "", "url": self.ats.webhook_url}
            ),
        }

    def prepare_aws(self, emulator: AwsEmulator, stack: TemplateStack) -> None:
        """What a deployer does by hand: verify the SES sender identity."""
        emulator.client("ses").verify_email_identity(EmailAddress=LOCAL_SENDER)

    def saw_event(self, event: dict[str, Any]) -> None:
        """ROUND0's API knows every interview it sent an `interview_ended` for."""
        if event.get("type") != "interview_ended" or not isinstance(event.get("data"), dict):
            return
        interview_id = str(event["data"].get("interview", {}).get("id", ""))
        if interview_id and self.round0.results_document(interview_id) is None:
            self.round0.register_interview(event)

    def observers_for(self, environment: dict[str, str], stack: TemplateStack) -> list[Observer]:
        """The HTTP stand-ins a function's configuration points at."""
        secret_arns = {stack.arns[name]: name for name in self.secret_values("")}
        configured = " ".join(environment.values())
        reachable = " ".join(
            [configured]
            + [
                self.secret_values("")[secret_arns[value]]
                for value in environment.values()
                if value in secret_arns
            ]
        )
        observers: list[Observer] = []
        if self.slack.base_url in reachable:
            observers.append(StandInObserver("slack", "#", self.slack))
        if self.ats.base_url in reachable:
            observers.append(StandInObserver("ats", "⇄", self.ats))
        return observers
