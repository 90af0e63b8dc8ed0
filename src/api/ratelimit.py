"""Rate limit on `POST /jobs`: per API key, or per client address when no keys are set.

`AGENTQ_RATE_LIMIT` sets it, e.g. `600/minute`, `10/second`, `5000/hour`, `100/30s`;
empty (the default) turns it off. The count is the sliding window of
`src/queue/lua/ratelimit.lua` (the one the workers use for LLM providers), kept in
Redis under `{ns}:ratelimit:api:<who>`, so every API replica shares it and the
server's clock decides. Over the limit, the answer is 429 with `Retry-After` (whole
seconds until the window has room again).

Who is counted:
- with `AGENTQ_API_KEYS`, a request bearing a valid key counts against that key (keys
  are compared in constant time, and only a digest of the key is used in Redis);
- anything else counts against the client address (what uvicorn puts in the ASGI
  scope: run it with `--proxy-headers --forwarded-allow-ips=<proxy>` behind a proxy).

If Redis does not answer, the request goes through unlimited: the route itself then
answers 503 with `Retry-After`, as every call that needs Redis does.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from src.queue import ops

SLOTS = 20  # the window's resolution: room comes back at most period/20 late

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86_400,
    "day": 86_400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")
_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` requests in any `period_s` seconds."""

    limit: int
    period_s: float

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        """`"600/minute"` → Rate(600, 60); empty → None; anything unreadable → ValueError."""
        if not text or not text.strip():
            return None
        m = _RATE.match(text.lower())
        word = m[3] if m else ""
        if word not in _UNITS and word.endswith("s") and word != "ms":
            word = word[:-1]  # plurals: 10/seconds, 100/minutes
        unit = _UNITS.get(word)
        if not m or not unit:
            raise ValueError(
                f"AGENTQ_RATE_LIMIT={text!r}: expected <count>/<period>, e.g. 600/minute, "
                "10/second, 100/30s"
            )
        period = float(m[2] or 1) * unit
        if int(m[1]) < 1 or period <= 0:
            raise ValueError(f"AGENTQ_RATE_LIMIT={text!r}: count and period must be positive")
        return cls(int(m[1]), period)

    def __str__(self) -> str:
        return f"{self.limit} per {self.period_s:g} s"


class RateLimitMiddleware:
    """Answer 429 with Retry-After when `POST /jobs` goes over the rate of its caller."""

    def __init__(
        self, app: ASGIApp, rate: Rate, api_keys: list[str] | tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.rate = rate
        self.api_keys = [k.encode() for k in api_keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].rstrip("/") == "/jobs"
        ):
            await self.app(scope, receive, send)
            return
        wait_ms = await self._ask(scope)
        if wait_ms > 0:
            retry_after = max(1, math.ceil(wait_ms / 1000))
            response = JSONResponse(
                {"detail": f"rate limit exceeded ({self.rate}); retry in {retry_after} s"},
                429,
                headers={
                    "Retry-After": str(retry_after),
                    "X-RateLimit-Limit": str(self.rate.limit),
                },
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def who(self, scope: Scope) -> str:
        """The caller: `key:<digest>` for a valid API key, else `ip:<address>`."""
        if self.api_keys:
            auth = Headers(scope=scope).get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() == "bearer" and token:
                given = token.strip().encode()
                valid = False
                for key in self.api_keys:  # every key, without stopping early
                    valid |= hmac.compare_digest(given, key)
                if valid:
                    return "key:" + hashlib.sha256(given).hexdigest()[:32]
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")

    async def _ask(self, scope: Scope) -> int:
        client = getattr(getattr(scope.get("app"), "state", None), "client", None)
        if client is None:
            return 0
        key = client.keys.ratelimit("api:" + self.who(scope))
        try:
            wait = await ops.ratelimit(
                client.redis, key, rpm=self.rate.limit, tpm=0, tokens=0,
                period_ms=int(self.rate.period_s * 1000), slots=SLOTS,
            )
        except _UNAVAILABLE:
            return 0  # fail open: the route answers 503 itself
        return int(wait or 0)


def install(app: Any, rate_limit: str, api_keys: list[str]) -> Rate | None:
    """Add the middleware when a rate is configured (`AGENTQ_RATE_LIMIT`)."""
    rate = Rate.parse(rate_limit)
    if rate is not None:
        app.add_middleware(RateLimitMiddleware, rate=rate, api_keys=list(api_keys))
    return rate
