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

For an erasure (`round0-ops erase --ats-notes`), `erase_notes` lists the notes on the
candidate's opportunities (`GET /v1/opportunities/{id}/notes`) and deletes the ones this
sync wrote (`DELETE /v1/opportunities/{id}/notes/{note id}`), known by how they begin.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from round0.consumer import TimeLeft
from round0.observability import Metric, count, logger
from round0_ats.credentials import LeverCredentials
from round0_ats.notes import NOTE_LIMIT, TAGS, NoteLimit, is_screening_note, write_screening
from round0_ats.ports import CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate
from round0_ats.transport import Call, RejectedRequest, Transport

API_BASE = "https://api.lever.co"
PAGE_SIZE = 100
MAX_PAGES = 10


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

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        credentials = self._credentials()
        opportunity_ids = self._opportunities(email, credentials, time_left)
        tag = TAGS[update.status]
        notes = write_screening(
            update,
            opportunity_ids,
            self._note_limit,
            steps,
            add_note=lambda opportunity_id, text: self._add_note(
                opportunity_id, text, credentials, time_left
            ),
            add_tag=lambda opportunity_id: self._add_tag(
                opportunity_id, tag, credentials, time_left
            ),
        )
        logger.info("lever updated", opportunities=len(opportunity_ids), notes=notes)

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        credentials: LeverCredentials,
        time_left: TimeLeft,
        **kwargs: Any,
    ) -> Any:
        response = self._transport.send(
            Call(method, self._api + path, what, auth=(credentials.api_key, ""), **kwargs),
            time_left,
        )
        return response.json() if response.content else {}

    def _list(
        self,
        path: str,
        what: str,
        params: dict[str, str],
        credentials: LeverCredentials,
        time_left: TimeLeft,
    ) -> list[dict[str, Any]]:
        """Every item of a Lever list, page after page (`hasNext`, `next` offset), at most
        MAX_PAGES pages (a warning when there were more)."""
        items: list[dict[str, Any]] = []
        params = {**params, "limit": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            page = self._call("GET", path, what, credentials, time_left, params=params)
            if not isinstance(page, dict):
                break
            items += [item for item in page.get("data", []) if isinstance(item, dict)]
            if not page.get("hasNext") or not page.get("next"):
                break
            params = {**params, "offset": str(page["next"])}
        else:
            logger.warning("lever list truncated", pages=MAX_PAGES)
        return items

    def _opportunities(
        self, email: str, credentials: LeverCredentials, time_left: TimeLeft
    ) -> list[str]:
        listed = self._list(
            "/v1/opportunities", "find opportunities", {"email": email}, credentials, time_left
        )
        found = [str(item["id"]) for item in listed if item.get("id")]
        if not found:
            raise CandidateNotFound("candidate_unknown: no lever opportunity has that email")
        return found

    def _add_note(
        self, opportunity_id: str, text: str, credentials: LeverCredentials, time_left: TimeLeft
    ) -> dict[str, Any]:
        document = self._call(
            "POST",
            f"/v1/opportunities/{quote(opportunity_id, safe='')}/notes",
            "add note",
            credentials,
            time_left,
            params={"perform_as": credentials.perform_as},
            json_body={"value": text, "secret": credentials.secret_notes},
        )
        data = document.get("data") if isinstance(document, dict) else None
        return {"note_id": data.get("noteId") if isinstance(data, dict) else None}

    def _add_tag(
        self, opportunity_id: str, tag: str, credentials: LeverCredentials, time_left: TimeLeft
    ) -> dict[str, Any]:
        try:
            self._call(
                "POST",
                f"/v1/opportunities/{quote(opportunity_id, safe='')}/addTags",
                "add tag",
                credentials,
                time_left,
                params={"perform_as": credentials.perform_as},
                json_body={"tags": [tag]},
            )
        except RejectedRequest as rejected:
            logger.warning("lever tag skipped", status=rejected.status)
            count(Metric.TAG_SKIPPED)
            return {"tag": "skipped", "status": rejected.status}
        return {"tag": "added"}

    def erase_notes(self, email: str, time_left: TimeLeft, dry_run: bool = False) -> int:
        """Delete the screening notes this sync wrote on the candidate's opportunities;
        how many (`dry_run`: how many it would). A candidate Lever does not know has none."""
        credentials = self._credentials()
        try:
            opportunity_ids = self._opportunities(email, credentials, time_left)
        except CandidateNotFound:
            return 0
        deleted = 0
        for opportunity_id in opportunity_ids:
            path = f"/v1/opportunities/{quote(opportunity_id, safe='')}/notes"
            for note in self._list(path, "list notes", {}, credentials, time_left):
                if not note.get("id") or not is_screening_note(str(note.get("text") or "")):
                    continue
                deleted += 1
                if not dry_run:
                    self._call(
                        "DELETE",
                        f"{path}/{quote(str(note['id']), safe='')}",
                        "delete note",
                        credentials,
                        time_left,
                    )
        return deleted
