"""The `greenhouse` adapter: Greenhouse Harvest API v3.

Harvest v1/v2 (Basic auth with an API key, `On-Behalf-Of`,
`/v1/candidates/{id}/activity_feed/notes`) stopped answering on 2026-08-31; v3 is the
documented API. What this adapter sends:

- token: `POST https://auth.greenhouse.io/token`, HTTP Basic `client_id:client_secret`,
  form `grant_type=client_credentials&sub=<user_id>`. `sub` makes every write appear as
  that Greenhouse user (v3's replacement for `On-Behalf-Of`). The token is cached until
  shortly before `expires_in`, and fetched again once on a `401`.
- candidates: `GET /v3/candidates?email=<email>&per_page=500`, `Authorization: Bearer`,
  following `Link: <...>; rel="next"` (the next URL carries its cursor and must be
  requested as given, with no other parameter). A next link to another origin is never
  followed (the bearer token would go with it): the event is dead-lettered.
- note: `POST /v3/notes` `{"candidate_id", "body", "note_type": "NOTE", "visibility"}`.
- tag: the tag's id from `GET /v3/candidate_tags` (created with `POST /v3/candidate_tags`
  `{"name"}` if missing), then `POST /v3/applied_candidate_tags`
  `{"candidate_id", "candidate_tag_id"}`. A tag the API refuses is logged, not fatal.
- rate limits: a `429` is retried after its `Retry-After`; see `transport`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin

import requests

from round0.consumer import TimeLeft
from round0.failures import PermanentFailure
from round0.http import same_origin
from round0.observability import Metric, count, logger
from round0_ats.credentials import GreenhouseCredentials
from round0_ats.notes import NOTE_LIMIT, TAGS, NoteLimit, write_screening
from round0_ats.ports import CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate
from round0_ats.transport import Call, RejectedRequest, Transport

API_BASE = "https://harvest.greenhouse.io"
OAUTH_TOKEN_ENDPOINT = "https://auth.greenhouse.io/token"  # noqa: S105 - a URL, not a secret
PAGE_SIZE = 500
MAX_PAGES = 10
TOKEN_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float
    owner: tuple[str, str]


class GreenhouseAts:
    name = "greenhouse"

    def __init__(
        self,
        credentials: Callable[[], GreenhouseCredentials],
        transport: Transport,
        api_base: str = API_BASE,
        token_url: str = OAUTH_TOKEN_ENDPOINT,
        clock: Callable[[], float] = time.monotonic,
        note_limit: NoteLimit = NOTE_LIMIT,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._api = api_base.rstrip("/")
        self._token_url = token_url
        self._clock = clock
        self._note_limit = note_limit
        # caches for warm invocations: the access token and tag ids by name
        self._token: _Token | None = None
        self._tag_ids: dict[str, int] = {}

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        credentials = self._credentials()
        candidate_ids = self._candidates(email, credentials, time_left)
        tag = TAGS[update.status]
        notes = write_screening(
            update,
            candidate_ids,
            self._note_limit,
            steps,
            add_note=lambda candidate_id, body: self._add_note(
                candidate_id, body, credentials, time_left
            ),
            add_tag=lambda candidate_id: self._tag(candidate_id, tag, credentials, time_left),
        )
        logger.info("greenhouse updated", candidates=len(candidate_ids), notes=notes)

    # ------------------------------------------------------------------ reads
    def _candidates(
        self, email: str, credentials: GreenhouseCredentials, time_left: TimeLeft
    ) -> list[int]:
        found = [
            int(candidate["id"])
            for candidate in self._list(
                "/v3/candidates", {"email": email}, "find candidate", credentials, time_left
            )
        ]
        if not found:
            raise CandidateNotFound("candidate_unknown: no greenhouse candidate has that email")
        return found

    def _list(
        self,
        path: str,
        params: dict[str, str],
        what: str,
        credentials: GreenhouseCredentials,
        time_left: TimeLeft,
    ) -> list[dict[str, Any]]:
        """Every item of a v3 collection, following `Link: rel="next"` (bounded)."""
        items: list[dict[str, Any]] = []
        url: str | None = self._api + path
        query: dict[str, str] | None = {**params, "per_page": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._authorized(
                Call("GET", url, what, params=query), credentials, time_left
            )
            page = response.json()
            items.extend(item for item in page if isinstance(item, dict))
            next_link = response.links.get("next", {}).get("url")
            url = urljoin(url, next_link) if next_link else None
            if url is not None and not same_origin(url, self._api):
                raise PermanentFailure(
                    f"ats_rejected: greenhouse {what} pagination left the API's origin"
                )
            query = None  # the next URL carries its cursor; v3 refuses other parameters
        else:
            if url is not None:
                logger.warning("greenhouse list truncated", call=what, pages=MAX_PAGES)
        return items

    # ------------------------------------------------------------------ writes
    def _add_note(
        self, candidate_id: int, body: str, credentials: GreenhouseCredentials, time_left: TimeLeft
    ) -> dict[str, Any]:
        response = self._authorized(
            Call(
                "POST",
                f"{self._api}/v3/notes",
                "add note",
                json_body={
                    "candidate_id": candidate_id,
                    "body": body,
                    "note_type": "NOTE",
                    "visibility": credentials.note_visibility,
                },
            ),
            credentials,
            time_left,
        )
        return {"note_id": _id_of(response.json())}

    def _tag(
        self, candidate_id: int, name: str, credentials: GreenhouseCredentials, time_left: TimeLeft
    ) -> dict[str, Any]:
        try:
            tag_id = self._tag_id(name, credentials, time_left)
            self._authorized(
                Call(
                    "POST",
                    f"{self._api}/v3/applied_candidate_tags",
                    "apply tag",
                    json_body={"candidate_id": candidate_id, "candidate_tag_id": tag_id},
                ),
                credentials,
                time_left,
            )
        except (RejectedRequest, _NoTagId) as refused:
            # the note is what matters; a tag the API will not take (already applied,
            # no tag scope on the credentials) is reported, not retried
            status = refused.status if isinstance(refused, RejectedRequest) else None
            logger.warning("greenhouse tag skipped", status=status)
            count(Metric.TAG_SKIPPED)
            return {"tag": "skipped", "status": status}
        return {"tag_id": tag_id}

    def _tag_id(self, name: str, credentials: GreenhouseCredentials, time_left: TimeLeft) -> int:
        if name in self._tag_ids:
            return self._tag_ids[name]
        wanted = name.casefold()
        existing = next(
            (
                tag
                for tag in self._list("/v3/candidate_tags", {}, "list tags", credentials, time_left)
                if str(tag.get("name", "")).strip().casefold() == wanted
            ),
            None,
        )
        if existing is None:
            response = self._authorized(
                Call(
                    "POST", f"{self._api}/v3/candidate_tags", "create tag", json_body={"name": name}
                ),
                credentials,
                time_left,
            )
            existing = response.json()
        tag_id = _id_of(existing)
        if tag_id is None:
            raise _NoTagId(name)
        self._tag_ids[name] = tag_id
        return tag_id

    # ------------------------------------------------------------------ auth
    def _authorized(
        self, call: Call, credentials: GreenhouseCredentials, time_left: TimeLeft
    ) -> requests.Response:
        for attempt in (1, 2):
            token = self._access_token(credentials, time_left)
            signed = replace(call, headers={**call.headers, "Authorization": f"Bearer {token}"})
            try:
                return self._transport.send(signed, time_left)
            except RejectedRequest as rejected:
                if rejected.status != 401 or attempt == 2:
                    raise
                self._token = None  # revoked or expired early: one fresh token, once
        raise AssertionError("unreachable: the loop returns or raises")

    def _access_token(self, credentials: GreenhouseCredentials, time_left: TimeLeft) -> str:
        owner = (credentials.client_id, credentials.user_id)
        token = self._token
        if token is not None and token.owner == owner and self._clock() < token.expires_at:
            return token.value
        response = self._transport.send(
            Call(
                "POST",
                self._token_url,
                "get token",
                form={"grant_type": "client_credentials", "sub": credentials.user_id},
                auth=(credentials.client_id, credentials.client_secret),
            ),
            time_left,
        )
        document = response.json()
        if not isinstance(document, dict) or not document.get("access_token"):
            raise PermanentFailure("ats_rejected: greenhouse gave no access token")
        lifetime = float(document.get("expires_in") or 3600)
        self._token = _Token(
            value=str(document["access_token"]),
            expires_at=self._clock() + max(lifetime - TOKEN_MARGIN_SECONDS, 0.0),
            owner=owner,
        )
        return self._token.value


class _NoTagId(Exception):
    """Greenhouse created or listed a tag without telling its id."""


def _id_of(document: Any) -> int | None:
    value = document.get("id") if isinstance(document, dict) else None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None
