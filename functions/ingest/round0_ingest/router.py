"""A router for the ingest function's one route, on an HTTP API (payload format 2.0) event.

Why not Powertools' `APIGatewayHttpResolver`: importing it imports every resolver of its
package (AppSync's brings asyncio), a third of the function's cold start beyond boto3's,
for one route; and it matches the whole path, so behind a named stage or a custom
domain's base-path mapping, which put a prefix in `rawPath` (`/prod/webhooks/round0`,
`/v1/webhooks/round0`), every webhook would get 404 (powertools-lambda-python #576).

A route here matches its method and any path that ends with its path at a segment
boundary: whatever prefix a stage or a domain mapping puts in front of it. API Gateway
only sends this function what its route key (`POST /webhooks/round0`) admits anyway.
Everything else is answered as Powertools answered it: 404 with the same JSON body.
Answers have the shape Powertools gave them (same keys, compact JSON, `Content-Type`).

Plain slotted classes, not dataclasses: a dataclass costs its module about a millisecond
of a cold start to create, and these hold a request's few fields for one call.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

APPLICATION_JSON = "application/json"


class Request:
    """What a route needs of an HTTP API request."""

    __slots__ = ("body", "headers", "is_base64_encoded", "method", "path")

    def __init__(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],  # names lower-cased (HTTP names are case-insensitive)
        body: str,
        is_base64_encoded: bool,
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.is_base64_encoded = is_base64_encoded

    @classmethod
    def from_http_api(cls, event: Mapping[str, Any]) -> "Request":
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, Mapping) else None
        http = http if isinstance(http, Mapping) else {}
        method = http.get("method")
        # the path as the client sent it, stage or base-path mapping included
        path = event.get("rawPath") or http.get("path")
        headers = event.get("headers")
        body = event.get("body")
        return cls(
            method=method.upper() if isinstance(method, str) else "",
            path=path if isinstance(path, str) else "",
            headers=(
                # lower-cased like Powertools' CaseInsensitiveDict: the last of a name wins
                {str(name).lower(): value for name, value in headers.items()}
                if isinstance(headers, Mapping)
                else {}
            ),
            body=body if isinstance(body, str) else "",
            is_base64_encoded=bool(event.get("isBase64Encoded")),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class JsonResponse:
    """A JSON answer: its status, its body (a JSON object) and its headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    def for_http_api(self) -> dict[str, Any]:
        """The Lambda proxy integration's answer (payload format 2.0)."""
        return {
            "statusCode": self.status,
            "body": json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
            "headers": {"Content-Type": APPLICATION_JSON, **self.headers},
            "cookies": [],
        }


NOT_FOUND = JsonResponse(404, {"statusCode": 404, "message": "Not found"})

RouteHandler = Callable[[Request], JsonResponse]
ErrorHandler = Callable[[Any], JsonResponse]


class Route:
    """A method and a path (from "/"), matched behind any prefix."""

    __slots__ = ("handler", "method", "path")

    def __init__(self, method: str, path: str, handler: RouteHandler) -> None:
        self.method = method
        self.path = path
        self.handler = handler

    def matches(self, request: Request) -> bool:
        # the route's path starts with "/": a suffix match is at a segment boundary
        return request.method == self.method and request.path.endswith(self.path)


class Router:
    """Routes by method and path suffix; turns exceptions into answers by their class."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._error_handlers: dict[type[BaseException], ErrorHandler] = {}

    def post(self, path: str) -> Callable[[RouteHandler], RouteHandler]:
        if not path.startswith("/") or path == "/":
            raise ValueError("a route's path starts with / and names something")

        def register(handler: RouteHandler) -> RouteHandler:
            self._routes.append(Route("POST", path.rstrip("/"), handler))
            return handler

        return register

    def exception_handler[E: Exception](
        self, error_type: type[E]
    ) -> Callable[[Callable[[E], JsonResponse]], Callable[[E], JsonResponse]]:
        def register(handler: Callable[[E], JsonResponse]) -> Callable[[E], JsonResponse]:
            self._error_handlers[error_type] = handler
            return handler

        return register

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request; an exception no handler takes is raised."""
        request = Request.from_http_api(event)
        route = next((route for route in self._routes if route.matches(request)), None)
        if route is None:
            return NOT_FOUND.for_http_api()
        try:
            response = route.handler(request)
        except Exception as error:
            handler = self._error_handler(error)
            if handler is None:
                raise
            response = handler(error)
        return response.for_http_api()

    def _error_handler(self, error: Exception) -> ErrorHandler | None:
        """The handler of the error's class or of its nearest registered base class."""
        for cls in type(error).__mro__:
            handler = self._error_handlers.get(cls)
            if handler is not None:
                return handler
        return None
