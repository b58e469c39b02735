"""A stand-in for the applicant tracking systems the ATS sync writes to, on 127.0.0.1.

One server plays three parts, each answering the way its documentation says:

- the user's webhook receiver: `POST /ats/webhook` -> `200 {"ok": true}`;
- Greenhouse Harvest v3: `POST /token` (HTTP Basic client id/secret, form
  `grant_type=client_credentials&sub=<user>`), then with `Authorization: Bearer`:
  `GET /v3/candidates?email=` and `GET /v3/candidate_tags` (cursor pages behind
  `Link: <...>; rel="next"`; a cursor must be the only parameter, else `422`),
  `POST /v3/candidate_tags`, `POST /v3/applied_candidate_tags`, `POST /v3/notes`;
- Lever v1, HTTP Basic with the API key: `GET /v1/opportunities?email=&limit=&offset=`
  (`{"data", "hasNext", "next"}`), `POST /v1/opportunities/{id}/notes?perform_as=`,
  `GET /v1/opportunities/{id}/notes`, `DELETE /v1/opportunities/{id}/notes/{note id}`,
  `POST /v1/opportunities/{id}/addTags?perform_as=`.

A note longer than `note_max_chars` is refused with `422`, like an API enforcing a
limit would. Like every stand-in (`recording.RecordingStandIn`) it records each request
with the status it got, and can be told to answer the next requests (optionally only
those to one path) with a fault: `429` with `Retry-After`, a `5xx`, any other status,
or a hang; over HTTP too, with `POST /_standin/faults`.

    with AtsStandIn() as ats:
        candidate = ats.add_greenhouse_candidate("jane@example.com")
        ats.rate_limit(times=1, retry_after="2", path="/v3/notes")
        ...  # point the adapter at ats.base_url
        ats.requests_to("POST", "/v3/notes")
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlencode

from round0_testkit.standins.recording import Fault, RecordedRequest, RecordingStandIn, Responder

__all__ = ["WEBHOOK_PATH", "AtsStandIn", "Fault", "RecordedRequest", "basic_auth", "form"]

WEBHOOK_PATH = "/ats/webhook"
GREENHOUSE_CLIENT_ID = "local-greenhouse-client"
GREENHOUSE_CLIENT_SECRET = "local-greenhouse-secret"  # noqa: S105 - not a real secret
GREENHOUSE_USER_ID = "4080"
LEVER_API_KEY = "local-lever-api-key"
LEVER_USER_ID = "8d49b010-cc6a-4f40-ace5-e86061c677ed"
NOTE_VISIBILITIES = {"public", "private", "admin_only"}


def form(request: RecordedRequest) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body, decoded."""
    return parse_qs(request.body.decode())


def basic_auth(request: RecordedRequest) -> tuple[str, str] | None:
    """The (user, password) of an HTTP Basic `Authorization` header, if any."""
    value = request.header("Authorization") or ""
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class AtsStandIn(RecordingStandIn):
    """The webhook receiver, Greenhouse and Lever on 127.0.0.1, port chosen by the system."""

    def __init__(
        self, note_max_chars: int = 10_000, page_size: int | None = None, hang_seconds: float = 30
    ) -> None:
        super().__init__(hang_seconds=hang_seconds)
        self.note_max_chars = note_max_chars
        self.page_size = page_size  # forces small pages, to exercise pagination
        self._ids = iter(range(1000, 10**9))
        self._tokens: set[str] = set()
        self._cursors: dict[str, tuple[str, dict[str, str], int]] = {}
        self.greenhouse_candidates: dict[int, str] = {}  # id -> email
        self.greenhouse_tags: dict[int, str] = {}  # id -> name
        self.greenhouse_notes: list[dict[str, Any]] = []
        self.greenhouse_applied_tags: list[dict[str, Any]] = []
        self.lever_opportunities: dict[str, str] = {}  # id -> email
        self.lever_notes: list[dict[str, Any]] = []
        self.lever_tags: dict[str, list[str]] = {}
        self.webhook_deliveries: list[RecordedRequest] = []

    def handle(self, request: RecordedRequest, reply: Responder) -> None:
        answer = self.answer(request)
        if answer.status == HTTPStatus.NO_CONTENT:
            reply.send(answer.status, b"", answer.headers)
        else:
            reply.json(answer.status, answer.body, answer.headers)

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    # ------------------------------------------------------------ the ATS's records
    def add_greenhouse_candidate(self, email: str) -> int:
        with self._lock:
            candidate_id = next(self._ids)
            self.greenhouse_candidates[candidate_id] = email
            return candidate_id

    def add_lever_opportunity(self, email: str) -> str:
        with self._lock:
            opportunity_id = f"opp-{next(self._ids)}"
            self.lever_opportunities[opportunity_id] = email
            return opportunity_id

    def revoke_greenhouse_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # ------------------------------------------------------------ faults
    def rate_limit(self, times: int = 1, retry_after: str = "1", path: str | None = None) -> None:
        """`429` with `Retry-After` (seconds or an HTTP date; "" sends none)."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.fail(Fault(429, '{"message": "rate limited"}', headers, path=path), times)

    def server_error(self, times: int = 1, status: int = 500, path: str | None = None) -> None:
        self.fail(Fault(status, '{"message": "internal error"}', path=path), times)

    def hang(self, times: int = 1, path: str | None = None) -> None:
        self.fail(Fault(hang=True, path=path), times)

    # ------------------------------------------------------------ what it saw
    def requests_to(self, method: str, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.route == route]

    # ------------------------------------------------------------ answers
    def answer(self, request: RecordedRequest) -> _Answer:
        with self._lock:
            if request.route == WEBHOOK_PATH and request.method == "POST":
                self.webhook_deliveries.append(request)
                return _Answer(HTTPStatus.OK, {"ok": True})
            if request.route == "/token" and request.method == "POST":
                return self._greenhouse_token(request)
            if request.route.startswith("/v3/"):
                return self._greenhouse(request)
            if request.route.startswith("/v1/"):
                return self._lever(request)
            return _Answer(HTTPStatus.NOT_FOUND, {"message": "Resource not found"})

    # Greenhouse -----------------------------------------------------------------
    def _greenhouse_token(self, request: RecordedRequest) -> _Answer:
        if basic_auth(request) != (GREENHOUSE_CLIENT_ID, GREENHOUSE_CLIENT_SECRET):
            return _Answer(HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"})
        form_data = form(request)
        if form_data.get("grant_type") != ["client_credentials"] or not form_data.get("sub"):
            return _Answer(HTTPStatus.BAD_REQUEST, {"error": "invalid_request"})
        token = secrets.token_hex(16)
        self._tokens.add(token)
        return _Answer(
            HTTPStatus.OK, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    def _greenhouse(self, request: RecordedRequest) -> _Answer:
        auth = request.header("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return _Answer(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"})
        routes = {
            ("GET", "/v3/candidates"): lambda: self._greenhouse_page(request, self._candidates),
            ("GET", "/v3/candidate_tags"): lambda: self._greenhouse_page(request, self._tags),
            ("POST", "/v3/candidate_tags"): lambda: self._greenhouse_new_tag(request.json()),
            ("POST", "/v3/applied_candidate_tags"): lambda: self._greenhouse_apply(request.json()),
            ("POST", "/v3/notes"): lambda: self._greenhouse_note(request.json()),
        }
        route = routes.get((request.method, request.route))
        if route is None:
            return _Answer(HTTPStatus.NOT_FOUND, {"message": "Resource not found"})
        return route()

    def _candidates(self, query: dict[str, str]) -> list[dict[str, Any]]:
        wanted = query.get("email", "").casefold()
        return [
            {"id": candidate_id, "first_name": "Jane", "last_name": "Smith"}
            for candidate_id, email in sorted(self.greenhouse_candidates.items())
            if email.casefold() == wanted
        ]

    def _tags(self, query: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"id": tag_id, "name": name} for tag_id, name in sorted(self.greenhouse_tags.items())
        ]

    def _greenhouse_new_tag(self, document: dict[str, Any]) -> _Answer:
        name = str(document.get("name", ""))
        if not name or name in self.greenhouse_tags.values():
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": ["name"]})
        tag_id = next(self._ids)
        self.greenhouse_tags[tag_id] = name
        return _Answer(HTTPStatus.CREATED, {"id": tag_id, "name": name})

    def _greenhouse_apply(self, document: dict[str, Any]) -> _Answer:
        if set(document) != {"candidate_id", "candidate_tag_id"}:
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": sorted(document)})
        applied = {"id": next(self._ids), **document}
        self.greenhouse_applied_tags.append(applied)
        return _Answer(HTTPStatus.CREATED, applied)

    def _greenhouse_note(self, document: dict[str, Any]) -> _Answer:
        problems = [
            name
            for name, ok in (
                ("candidate_id", document.get("candidate_id") in self.greenhouse_candidates),
                ("body", isinstance(document.get("body"), str) and document["body"] != ""),
                ("note_type", document.get("note_type") == "NOTE"),
                ("visibility", document.get("visibility") in NOTE_VISIBILITIES),
            )
            if not ok
        ]
        if problems:
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": problems})
        if len(document["body"]) > self.note_max_chars:
            return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": ["body is too long"]})
        note = {"id": next(self._ids), **document}
        self.greenhouse_notes.append(note)
        return _Answer(HTTPStatus.CREATED, note)

    def _greenhouse_page(
        self, request: RecordedRequest, select: Callable[[dict[str, str]], list[dict[str, Any]]]
    ) -> _Answer:
        query = {key: values[-1] for key, values in request.query.items()}
        if "cursor" in query:
            if len(query) > 1:
                return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": ["cursor"]})
            cursor = self._cursors.pop(query["cursor"], None)
            if cursor is None or cursor[0] != request.route:
                return _Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": ["cursor"]})
            _, query, offset = cursor
        else:
            offset = 0
        size = self.page_size or min(int(query.get("per_page", "100")), 500)
        items = select(query)
        page = items[offset : offset + size]
        headers: dict[str, str] = {}
        if offset + size < len(items):
            cursor_id = secrets.token_hex(8)
            self._cursors[cursor_id] = (request.route, query, offset + size)
            next_url = f"{self.base_url}{request.route}?{urlencode({'cursor': cursor_id})}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return _Answer(HTTPStatus.OK, page, headers)

    # Lever ----------------------------------------------------------------------
    def _lever(self, request: RecordedRequest) -> _Answer:  # noqa: PLR0911 - one per route
        if basic_auth(request) != (LEVER_API_KEY, ""):
            return _Answer(HTTPStatus.UNAUTHORIZED, {"code": "Unauthorized"})
        parts = request.route.strip("/").split("/")
        match request.method, parts:
            case "GET", ["v1", "opportunities"]:
                return self._lever_opportunities(request)
            case "POST", ["v1", "opportunities", opportunity_id, "notes"]:
                return self._lever_note(request, opportunity_id)
            case "GET", ["v1", "opportunities", opportunity_id, "notes"]:
                return self._lever_list_notes(request, opportunity_id)
            case "DELETE", ["v1", "opportunities", opportunity_id, "notes", note_id]:
                return self._lever_delete_note(opportunity_id, note_id)
            case "POST", ["v1", "opportunities", opportunity_id, "addTags"]:
                return self._lever_tags(request, opportunity_id)
        return _Answer(HTTPStatus.NOT_FOUND, {"code": "ResourceNotFound"})

    def _lever_tags(self, request: RecordedRequest, opportunity_id: str) -> _Answer:
        if opportunity_id not in self.lever_opportunities:
            return _Answer(HTTPStatus.NOT_FOUND, {"code": "ResourceNotFound"})
        tags = request.json().get("tags")
        if not isinstance(tags, list) or not request.query.get("perform_as"):
            return _Answer(HTTPStatus.BAD_REQUEST, {"code": "BadRequest"})
        self.lever_tags.setdefault(opportunity_id, []).extend(tags)
        return _Answer(HTTPStatus.OK, {"data": {"id": opportunity_id, "tags": tags}})

    def _lever_opportunities(self, request: RecordedRequest) -> _Answer:
        email = request.query.get("email", [""])[-1].casefold()
        matches = [
            {"id": oid, "emails": [email]}
            for oid, address in sorted(self.lever_opportunities.items())
            if address.casefold() == email
        ]
        return self._lever_page(request, matches)

    def _lever_list_notes(self, request: RecordedRequest, opportunity_id: str) -> _Answer:
        if opportunity_id not in self.lever_opportunities:
            return _Answer(HTTPStatus.NOT_FOUND, {"code": "ResourceNotFound"})
        notes = [
            {"id": n["noteId"], "text": n["value"], "user": "perform-as-user"}
            for n in self.lever_notes
            if n["opportunity"] == opportunity_id
        ]
        return self._lever_page(request, notes)

    def _lever_page(self, request: RecordedRequest, items: list[dict[str, Any]]) -> _Answer:
        """One page of `items` as Lever pages a list: `limit` (at most 100) and an
        `offset` token, `hasNext` and the `next` token while more follow."""
        limit = self.page_size or min(int(request.query.get("limit", ["100"])[-1]), 100)
        offset = int(request.query.get("offset", ["0"])[-1] or 0)
        has_next = offset + limit < len(items)
        document: dict[str, Any] = {"data": items[offset : offset + limit], "hasNext": has_next}
        if has_next:
            document["next"] = str(offset + limit)
        return _Answer(HTTPStatus.OK, document)

    def _lever_delete_note(self, opportunity_id: str, note_id: str) -> _Answer:
        kept = [
            n
            for n in self.lever_notes
            if not (n["opportunity"] == opportunity_id and n["noteId"] == note_id)
        ]
        if len(kept) == len(self.lever_notes):
            return _Answer(HTTPStatus.NOT_FOUND, {"code": "ResourceNotFound"})
        self.lever_notes[:] = kept
        return _Answer(HTTPStatus.NO_CONTENT)

    def _lever_note(self, request: RecordedRequest, opportunity_id: str) -> _Answer:
        if opportunity_id not in self.lever_opportunities:
            return _Answer(HTTPStatus.NOT_FOUND, {"code": "ResourceNotFound"})
        document = request.json()
        value = document.get("value")
        if not isinstance(value, str) or not value or not request.query.get("perform_as"):
            return _Answer(HTTPStatus.BAD_REQUEST, {"code": "BadRequest"})
        if len(value) > self.note_max_chars:
            return _Answer(HTTPStatus.BAD_REQUEST, {"code": "BadRequest", "message": "too long"})
        note_id = f"note-{next(self._ids)}"
        self.lever_notes.append({"noteId": note_id, "opportunity": opportunity_id, **document})
        return _Answer(HTTPStatus.CREATED, {"data": {"noteId": note_id}})
