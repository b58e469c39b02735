"""Lenient field types for the consumers' pydantic models, built on `round0.reading`'s
readers: each consumer reads only the fields it uses (`round0_notify.reading`,
`round0_archive.reading`, `round0_ats.reading`): numbers where integers were documented,
`null` or missing parts, timestamps as ISO 8601, an HTTP date, or Unix seconds or
milliseconds, ids of any scalar type, unknown fields ignored. Pure: no I/O.

Apart from `round0.reading` so that what does not read a model (ingest, the sweeper)
does not import pydantic.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from round0.reading import identifier, items, number, section, text, timestamp

Text = Annotated[str | None, BeforeValidator(text)]
Id = Annotated[str | None, BeforeValidator(identifier)]
Number = Annotated[float | None, BeforeValidator(number)]
Time = Annotated[datetime | None, BeforeValidator(timestamp)]
Section = BeforeValidator(section)
Items = BeforeValidator(items)


class Lenient(BaseModel):
    """A consumer's view of (part of) an event: every field optional and read by the types
    above, unknown fields ignored, so validating any JSON object never fails."""

    model_config = ConfigDict(extra="ignore", frozen=True)
