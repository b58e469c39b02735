"""What the ATS learns about a screening: the seed's `ats.updateCandidate(...)` payload.

`interview_started` -> status `screening_in_progress` with the start time;
`interview_ended` -> status `screening_completed` with the completion time, the
transcripts in the seed's `formatTranscripts` layout and the seed's JSON summary.
Pure: no I/O.
"""

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from round0.events import EventType, InterviewData, Round0Event, iso_utc
from round0.links import DEFAULT_APP_URL, interview_page_url
from round0.transcripts import format_transcripts


class ScreeningStatus(StrEnum):
    IN_PROGRESS = "screening_in_progress"
    COMPLETED = "screening_completed"


class CandidateUpdate(BaseModel):
    """One ATS update. `payload()` is exactly the seed's `updateCandidate` argument."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    interview_id: str
    status: ScreeningStatus
    email: str | None
    candidate_name: str
    job_title: str
    started_at: str | None = None
    completed_at: str | None = None
    notes: str | None = None
    summary: dict[str, Any] | None = None
    app_url: str = DEFAULT_APP_URL

    @property
    def interview_url(self) -> str:
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


def screening_summary(data: InterviewData) -> dict[str, Any]:
    """The seed's summary (its key names kept): candidate, job, completion, totals."""
    return {
        "candidate": data.candidate.name,
        "job": data.job.title,
        "completed_at": iso_utc(data.interview.completed_at),
        "total_duration": sum(response.duration_seconds for response in data.responses),
        "response_count": len(data.responses),
    }


def candidate_update(event: Round0Event, app_url: str = DEFAULT_APP_URL) -> CandidateUpdate | None:
    """The update an event asks for; None for event types the ATS does not hear about."""
    data = event.data
    if data is None:
        return None
    common = {
        "event_id": event.id,
        "interview_id": data.interview.id,
        "email": (data.candidate.email or "").strip() or None,
        "candidate_name": data.candidate.name,
        "job_title": data.job.title,
        "started_at": iso_utc(data.interview.started_at),
        "app_url": app_url,
    }
    match event.known_type:
        case EventType.INTERVIEW_STARTED:
            return CandidateUpdate(status=ScreeningStatus.IN_PROGRESS, **common)
        case EventType.INTERVIEW_ENDED:
            return CandidateUpdate(
                status=ScreeningStatus.COMPLETED,
                completed_at=iso_utc(data.interview.completed_at),
                notes=format_transcripts(data.responses),
                summary=screening_summary(data),
                **common,
            )
        case None:
            return None
