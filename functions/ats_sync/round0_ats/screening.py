"""What the ATS learns about a screening: the seed's `ats.updateCandidate(...)` payload.

`interview_started` -> status `screening_in_progress` with the start time;
`interview_ended` -> status `screening_completed` with the completion time, the
transcripts in the seed's `formatTranscripts` layout and the seed's JSON summary.
Pure: no I/O.
"""

import json
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from round0.consumer import ConsumerEvent
from round0.events import EventType, known_type
from round0.links import DEFAULT_APP_URL, interview_page_url
from round0.reading import iso_utc
from round0.transcripts import format_transcripts
from round0_ats.reading import InterviewData, read_data


class ScreeningStatus(StrEnum):
    IN_PROGRESS = "screening_in_progress"
    COMPLETED = "screening_completed"


class CandidateUpdate(BaseModel):
    """One ATS update. `payload()` is exactly the seed's `updateCandidate` argument."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    interview_id: str | None
    status: ScreeningStatus
    email: str | None
    candidate_name: str | None
    job_title: str | None
    started_at: str | None = None
    completed_at: str | None = None
    notes: str | None = None
    summary: dict[str, Any] | None = None
    app_url: str = DEFAULT_APP_URL

    @property
    def interview_url(self) -> str:
        """The interview's page in ROUND0 (ROUND0 itself when the event names none)."""
        if self.interview_id is None:
            return self.app_url
        return interview_page_url(self.interview_id, self.app_url)

    def summary_json(self) -> str | None:
        """The summary as the seed sends it: `JSON.stringify(summary)`."""
        if self.summary is None:
            return None
        return json.dumps(self.summary, separators=(",", ":"), ensure_ascii=False)

    def payload(self, notes: str | None = None) -> dict[str, Any]:
        """The seed's payload; `notes` replaces the transcripts (e.g. truncated)."""
        body: dict[str, Any] = {"email": self.email, "status": self.status.value}
        match self.status:
            case ScreeningStatus.IN_PROGRESS:
                body["screening_started_at"] = self.started_at
            case ScreeningStatus.COMPLETED:
                body["screening_completed_at"] = self.completed_at
                body["screening_notes"] = self.notes if notes is None else notes
                body["screening_summary"] = self.summary_json()
        return body


def total_seconds(durations: Iterable[float | None]) -> int:
    """The durations' sum in whole seconds (a missing one counts 0), added as decimals: two
    durations near the largest float would add up to infinity, which no int holds."""
    return round(sum((Decimal(seconds or 0) for seconds in durations), Decimal(0)))


def screening_summary(data: InterviewData) -> dict[str, Any]:
    """The seed's summary (its key names kept): candidate, job, completion, totals."""
    return {
        "candidate": data.candidate.name,
        "job": data.job.title,
        "completed_at": iso_utc(data.interview.completed_at),
        "total_duration": total_seconds(answer.duration_seconds for answer in data.responses),
        "response_count": len(data.responses),
    }


def candidate_update(
    event: ConsumerEvent, app_url: str = DEFAULT_APP_URL
) -> CandidateUpdate | None:
    """The update an event asks for; None for event types the ATS does not hear about."""
    match known_type(event.event_type):
        case EventType.INTERVIEW_STARTED:
            status = ScreeningStatus.IN_PROGRESS
        case EventType.INTERVIEW_ENDED:
            status = ScreeningStatus.COMPLETED
        case None:
            return None
    data = read_data(event)
    update = CandidateUpdate(
        event_id=event.event_id,
        interview_id=data.interview.id,
        status=status,
        email=(data.candidate.email or "").strip() or None,
        candidate_name=data.candidate.name,
        job_title=data.job.title,
        started_at=iso_utc(data.interview.started_at),
        app_url=app_url,
    )
    if status is ScreeningStatus.IN_PROGRESS:
        return update
    return update.model_copy(
        update={
            "completed_at": iso_utc(data.interview.completed_at),
            "notes": format_transcripts(data.responses),
            "summary": screening_summary(data),
        }
    )
