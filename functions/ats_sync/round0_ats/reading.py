"""What the ATS sync reads of an event: only the fields its update carries, leniently
(`round0.reading`). The candidate's email is the one it cannot do without: the ATS finds
the candidate by it."""

from typing import Annotated

from pydantic import Field

from round0.consumer import ConsumerEvent
from round0.lenient import Id, Items, Lenient, Number, Section, Text, Time


class Interview(Lenient):
    id: Id = None
    started_at: Time = None
    completed_at: Time = None


class Job(Lenient):
    title: Text = None


class Candidate(Lenient):
    name: Text = None
    email: Id = None


class Answer(Lenient):
    question_text: Text = None
    transcript: Text = None
    duration_seconds: Number = None


class InterviewData(Lenient):
    interview: Annotated[Interview, Section] = Interview()
    job: Annotated[Job, Section] = Job()
    candidate: Annotated[Candidate, Section] = Candidate()
    responses: Annotated[list[Answer], Items] = Field(default_factory=list)


def read_data(event: ConsumerEvent) -> InterviewData:
    return InterviewData.model_validate(event.data)
