"""The ingest function's router: matching, requests as it reads them, errors to answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from round0_ingest.router import JsonResponse, Request, Router


class Base(Exception):
    pass


class Specific(Base):
    pass


class MoreSpecific(Specific):
    pass


def event(method: str = "POST", raw_path: str | None = "/hook", **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "2.0",
        "requestContext": {"http": {"method": method, "path": raw_path}, "stage": "$default"},
        **extra,
    }
    if raw_path is not None:
        document["rawPath"] = raw_path
    return document


def router_raising(error: Exception | None = None) -> Router:
    router = Router()

    @router.post("/hook")
    def hook(request: Request) -> JsonResponse:
        if error is not None:
            raise error
        return JsonResponse(200, {"header": request.header("X-Thing"), "body": request.body})

    @router.exception_handler(Base)
    def base(error: Base) -> JsonResponse:
        return JsonResponse(400, {"handled_by": "base"})

    @router.exception_handler(Specific)
    def specific(error: Specific) -> JsonResponse:
        return JsonResponse(422, {"handled_by": "specific"}, {"Retry-After": "5"})

    return router


def test_an_error_goes_to_the_handler_of_its_nearest_registered_class() -> None:
    assert json.loads(router_raising(Base()).resolve(event())["body"]) == {"handled_by": "base"}
    for error in (Specific(), MoreSpecific()):
        answer = router_raising(error).resolve(event())
        assert answer["statusCode"] == 422
        assert json.loads(answer["body"]) == {"handled_by": "specific"}
        assert answer["headers"] == {"Content-Type": "application/json", "Retry-After": "5"}


def test_an_error_no_handler_takes_is_raised() -> None:
    with pytest.raises(KeyError):
        router_raising(KeyError("unexpected")).resolve(event())


def test_header_names_are_case_insensitive_and_the_last_of_a_name_wins() -> None:
    request = Request.from_http_api(event(headers={"x-thing": "first", "X-THING": "second"}))
    assert request.header("x-thing") == request.header("X-Thing") == "second"
    answer = router_raising().resolve(event(headers={"X-Thing": "value"}, body="text"))
    assert json.loads(answer["body"]) == {"header": "value", "body": "text"}


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"rawPath": "/hook"},  # no request context: no method
        {"requestContext": None, "rawPath": "/hook"},
        {"requestContext": {"http": None}, "rawPath": "/hook"},
        {"requestContext": {"http": {"method": 7}}, "rawPath": "/hook"},
        event(raw_path=None) | {"requestContext": {"http": {"method": "POST"}}},
        event(raw_path="/hooks"),
    ],
)
def test_what_is_not_the_route_is_not_found_never_an_error(document: dict[str, Any]) -> None:
    answer = router_raising(RuntimeError("must not run")).resolve(document)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {"statusCode": 404, "message": "Not found"}


def test_a_request_without_headers_or_body_reads_as_empty() -> None:
    request = Request.from_http_api(event(headers=None, body=None))
    assert (request.header("x-thing"), request.body, request.is_base64_encoded) == (None, "", False)


@pytest.mark.parametrize("path", ["", "/", "no-slash"])
def test_a_route_names_a_path(path: str) -> None:
    with pytest.raises(ValueError, match="starts with /"):
        Router().post(path)
