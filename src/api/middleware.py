"""Pure ASGI middleware: the request body limit and request metrics."""

from __future__ import annotations

import time

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.metrics import ApiMetrics


class PayloadTooLarge(HTTPException):
    """The request body is larger than `AGENTQ_MAX_PAYLOAD_BYTES`."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    """Answer 413 when the body is too large: from Content-Length before anything is read,
    or while the body streams in (chunked uploads), as soon as the limit is crossed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            status = 413 if length.isdigit() else 400
            detail = (
                PayloadTooLarge(self.max_bytes).detail if status == 413 else "bad Content-Length"
            )
            await JSONResponse({"detail": detail}, status, headers={"Connection": "close"})(
                scope, receive, send
            )
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge as exc:  # raised outside a route (nothing turned it into a response)
            if started:
                raise
            await JSONResponse({"detail": exc.detail}, 413)(scope, receive, send)


class MetricsMiddleware:
    """Count requests and time them by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            label = path if path else ("ui" if route is not None else "unmatched")
            self.metrics.observe(scope["method"], label, status, time.perf_counter() - start)
