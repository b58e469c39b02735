"""The `lever` adapter: Lever's Data API v1.

What it sends (HTTP Basic, the API key as username and an empty password):

- opportunities: `GET /v1/opportunities?email=<email>&limit=100`, then `&offset=<next>`
  while the answer says `hasNext` (bounded). Every opportunity of that candidate is
  updated.
- note: `POST /v1/opportunities/{id}/notes?perform_as=<user id>`
  `{"value": <text>, "secret": <bool>}`: written as that Lever user.
- tag: `POST /v1/opportunities/{id}/addTags?perform_as=<user id>` `{"tags": [<name>]}`
  (Lever creates a tag the first time it is used). A tag the API refuses is logged,
  not fatal.
- rate limits (10 requests per second per key, bursts to 20): a `429` is retried
  after its `Retry-After`, or with backoff; see `transport`.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from round0.observability import count, logger
from round0_ats.credentials import LeverCredentials
from round0_ats.notes import NoteLimit, write_screening
from round0_ats.ports import CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate, ScreeningStatus
from round0_ats.transport import Call, RejectedRequest, Transport

API_BASE = "https://api.lever.co"
# Lever documents no size limit for a note's `value`; 10,000 characters is a
# conservative choice. At most 10 notes per event; past that, truncated.
NOTE_LIMIT = NoteLimit(max_chars=10_000, max_parts=10)
PAGE_SIZE = 100
MAX_PAGES = 10
TAGS = {
    ScreeningStatus.IN_PROGRESS: "ROUND0 screening in progress",
    ScreeningStatus.COMPLETED: "ROUND0 screening completed",
}


class LeverAts:
    name = "lever"

    def __init__(
        self,
        credentials: Callable[[], LeverCredentials],
        transport: Transport,
        api_base: str = API_BASE,
        note_limit: NoteLimit = NOTE_LIMIT,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._api = api_base.rstrip("/")
        self._note_limit = note_limit

    def update_candidate(self, update: CandidateUpdate, steps: StepLog) -> None:
        if update.email is None:
            raise CandidateNotFound("candidate_unknown: the event has no candidate email")
        credentials = self._credentials()
        opportunity_ids = self._opportunities(update.email, credentials)
        tag = TAGS[update.status]
        notes = write_screening(
            update,
            opportunity_ids,
            self._note_limit,
            steps,
            add_note=lambda opportunity_id, text: self._add_note(opportunity_id, text, credentials),
            add_tag=lambda opportunity_id: self._add_tag(opportunity_id, tag, credentials),
        )
        logger.info("lever updated", opportunities=len(opportunity_ids), notes=notes)

    def _call(
        self, method: str, path: str, what: str, credentials: LeverCredentials, **kwargs: Any
    ) -> Any:
        response = self._transport.send(
            Call(method, self._api + path, what, auth=(credentials.api_key, ""), **kwargs)
        )
        return response.json() if response.content else {}

    def _opportunities(self, email: str, credentials: LeverCredentials) -> list[str]:
        found: list[str] = []
        params = {"email": email, "limit": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            page = self._call(
                "GET", "/v1/opportunities", "find opportunities", credentials, params=params
            )
            if not isinstance(page, dict):
                break
            found.extend(str(item["id"]) for item in page.get("data", []) if item.get("id"))
            if not page.get("hasNext") or not page.get("next"):
                break
            params = {**params, "offset": str(page["next"])}
        else:
            logger.warning("lever list truncated", pages=MAX_PAGES)
        if not found:
            raise CandidateNotFound("candidate_unknown: no lever opportunity has that email")
        return found

    def _add_note(
        self, opportunity_id: str, text: str, credentials: LeverCredentials
    ) -> dict[str, Any]:
        document = self._call(
            "POST",
            f"/v1/opportunities/{quote(opportunity_id, safe='')}/notes",
            "add note",
            credentials,
            params={"perform_as": credentials.perform_as},
            json_body={"value": text, "secret": credentials.secret_notes},
        )
        data = document.get("data") if isinstance(document, dict) else None
        return {"note_id": data.get("noteId") if isinstance(data, dict) else None}

    def _add_tag(
        self, opportunity_id: str, tag: str, credentials: LeverCredentials
    ) -> dict[str, Any]:
        try:
            self._call(
                "POST",
                f"/v1/opportunities/{quote(opportunity_id, safe='')}/addTags",
                "add tag",
                credentials,
                params={"perform_as": credentials.perform_as},
                json_body={"tags": [tag]},
            )
        except RejectedRequest as rejected:
            logger.warning("lever tag skipped", status=rejected.status)
            count("AtsTagSkipped")
            return {"tag": "skipped", "status": rejected.status}
        return {"tag": "added"}
