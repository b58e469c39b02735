"""What notifications read of an event: only the fields they show or route by, leniently
(`round0.reading`). Every field may be missing: a message goes out with what is there."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from round0.consumer import ConsumerEvent
from round0.lenient import Id, Items, Lenient, Number, Section, Text, Time
from round0.reading import timestamp


class Interview(Lenient):
    id: Id = None
    started_at: Time = None
    completed_at: Time = None
    estimated_duration_seconds: Number = None


class Job(Lenient):
    id: Id = None
    title: Text = None
    department: Text = None
    location: Text = None


class Candidate(Lenient):
    name: Text = None


class Answer(Lenient):
    score: Number = None
    duration_seconds: Number = None


class InterviewData(Lenient):
    interview: Annotated[Interview, Section] = Interview()
    job: Annotated[Job, Section] = Job()
    candidate: Annotated[Candidate, Section] = Candidate()
    responses: Annotated[list[Answer], Items] = Field(default_factory=list)


def read_data(event: ConsumerEvent) -> InterviewData:
    return InterviewData.model_validate(event.data)


def read_created(event: ConsumerEvent) -> datetime | None:
    """When ROUND0 created the event (the started email's fallback start time)."""
    return timestamp(event.document.get("created"))
