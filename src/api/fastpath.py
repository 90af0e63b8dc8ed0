"""A short way through the busiest routes (`POST /jobs`, `GET /jobs/{id}`) for the common
request, beside FastAPI's full request handling for every other one.

FastAPI's handling of one request (solving the dependency tree, the request body through
`json.loads` and the model, the response model's validation and serialisation, two exit
stacks) cost more than the rest of the request, Redis included. A route of
`FastPathRoute` with a `fast` handler gives the request to that handler first: it
answers the request when it is the common case it knows (a valid key, a body that
parses, no query), and returns None for anything else, which then goes through FastAPI
as before (the body it read is given again), so every error keeps the answer FastAPI
gives it (422 naming the field, 401, 404, ...). The OpenAPI document comes from the
route as declared and does not change.

A fast handler must not act (call Redis to change anything) before it knows it will
answer; it may raise what a route raises (the app's exception handlers answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from src.api.tenants import OPEN, Caller, KeyRing

#: (scope, body) -> the answer, or None to leave the request to FastAPI
FastHandler = Callable[[Scope, bytes], Awaitable[Response | None]]


class FastPathRoute(APIRoute):
    """An `APIRoute` that offers each request to its `fast` handler first."""

    fast: FastHandler | None = None
    #: whether `fast` needs the request body (read here, given again to FastAPI)
    fast_reads_body = False

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast
        if (
            fast is None
            or scope["method"] not in (self.methods or ())
            or getattr(scope.get("app"), "dependency_overrides", None)  # tests may swap them
        ):
            await super().handle(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        if self.fast_reads_body:
            body, messages = await _read_body(receive)
        response = None if body is None else await fast(scope, body)
        if response is None:
            await super().handle(scope, _replay(messages, receive) if messages else receive, send)
            return
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[Any, list[Message]]:
    """The request body (None when the client went away) and the messages that carried it."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages  # a disconnect: FastAPI sees it as before
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that gives `messages` again first."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def attach(router: Any, endpoint: Callable[..., Any], fast: FastHandler, *,
           reads_body: bool = False) -> None:
    """Give the route of `endpoint` in `router` its fast handler."""
    for route in router.routes:
        if isinstance(route, FastPathRoute) and route.endpoint is endpoint:
            route.fast = fast
            route.fast_reads_body = reads_body
            return
    raise LookupError(f"no FastPathRoute for {endpoint.__name__}")


def caller_of(scope: Scope) -> Caller | None:
    """The caller as `deps.require_api_key` finds it (through `HTTPBearer`), or None when
    that would refuse the request (FastAPI then answers the 401)."""
    ring: KeyRing = scope["app"].state.key_ring
    if not ring:
        return OPEN
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if not (scheme and credentials) or scheme.lower() != "bearer":
        return None
    return ring.resolve(credentials.encode())


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header `name` (lower case), as Starlette reads it."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def json_response(content: bytes, status: int, location: str | None = None) -> Response:
    """The answer FastAPI gives for a route with a response model: JSON bytes, and the
    headers the route set."""
    response = Response(content, status, media_type="application/json")
    if location is not None:
        response.headers["Location"] = location
    return response


__all__ = ["FastHandler", "FastPathRoute", "attach", "caller_of",
           "header", "json_response"]
