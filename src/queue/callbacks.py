"""Outbound completion callbacks: POST a finished job's record to its `callback_url`.

The body is the record as JSON, signed like inbound webhooks (`X-Signature-256`) when
`AGENTQ_WEBHOOK_SECRET` is set. A network error, 5xx, 408, 425 or 429 is worth another
try, with exponential back-off; other answers are final. A URL whose host is, or
resolves to, a private, loopback, link-local or otherwise non-public address is refused
unless that host is listed in `AGENTQ_CALLBACK_ALLOW`, so a job cannot make the service
call into its own network.

Workers deliver them (`src/worker/callbacks.py`), one attempt at a time from the
`{ns}:callbacks` schedule, so that a worker stopping or dying does not drop one;
`deliver_callback` is the same with its retries in one call.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from .signing import SIGNATURE_HEADER, sign

log = logging.getLogger("agentq.callbacks")

_RETRY_STATUSES = frozenset({408, 425, 429})
_MAX_BACKOFF_S = 60.0


class CallbackSettings(Protocol):
    webhook_secret: str
    callback_allow: list[str]
    callback_attempts: int
    callback_backoff_s: float
    callback_timeout_s: float


class CallbackRefused(ValueError):
    """The callback URL is not allowed (bad scheme, or a non-public address)."""


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _parse(url: str, allow: list[str]) -> tuple[str, bool]:
    """The URL's host and whether it is allowed outright; raises `CallbackRefused`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise CallbackRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise CallbackRefused("must be an http:// or https:// URL with a host")
    host = host.lower().rstrip(".")
    return host, host in {h.lower() for h in allow}


def check_callback_url_syntax(url: str, allow: list[str]) -> None:
    """The checks that need no DNS lookup (used when a job is submitted)."""
    host, allowed = _parse(url, allow)
    if allowed:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise CallbackRefused(f"host {host} is a loopback address; add it to AGENTQ_CALLBACK_ALLOW")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    if not _is_public(ip):
        raise CallbackRefused(
            f"host {host} is a private or loopback address; add it to AGENTQ_CALLBACK_ALLOW"
        )


async def check_callback_url(url: str, allow: list[str]) -> None:
    """Refuse `url` unless its host is allowed or every address it resolves to is public."""
    check_callback_url_syntax(url, allow)
    host, allowed = _parse(url, allow)
    if allowed:
        return
    try:
        ipaddress.ip_address(host)
        return  # a literal public address, already checked
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CallbackRefused(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        # an IPv4/IPv6 sockaddr starts with the address as text (the stubs also allow the
        # (int, bytes) pair of a Python built without IPv6, which never comes back here)
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _is_public(ip):
            raise CallbackRefused(
                f"host {host} resolves to the non-public address {ip}; "
                "add it to AGENTQ_CALLBACK_ALLOW"
            )


class Delivery(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"        # worth another attempt later
    REFUSED = "refused"    # final: a refused URL, or an answer that another try won't change


def backoff_s(attempt: int, settings: CallbackSettings) -> float:
    """The wait after failed attempt `attempt` (1-based): exponential, capped, jittered."""
    delay: float = min(_MAX_BACKOFF_S, settings.callback_backoff_s * 2 ** (attempt - 1))
    return delay * random.uniform(0.8, 1.2)


async def post_once(
    record: dict[str, Any], url: str, settings: CallbackSettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Delivery, str]:
    """One delivery attempt of `record` to `url`: its outcome and, when not delivered, why."""
    try:
        await check_callback_url(url, settings.callback_allow)
    except CallbackRefused as exc:
        return Delivery.REFUSED, str(exc)
    body = orjson.dumps(record)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agentq-callback/1",
        "X-Agentq-Job-Id": str(record.get("id", "?")),
    }
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, settings.webhook_secret)
    async with httpx.AsyncClient(timeout=settings.callback_timeout_s, follow_redirects=False,
                                 trust_env=False, transport=transport) as http:
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Delivery.RETRY, f"{type(exc).__name__}: {exc}"
    if response.is_success:
        return Delivery.DELIVERED, ""
    reason = f"HTTP {response.status_code}"
    if response.status_code >= 500 or response.status_code in _RETRY_STATUSES:
        return Delivery.RETRY, reason
    return Delivery.REFUSED, reason


async def deliver_callback(
    record: dict[str, Any], settings: CallbackSettings, *, url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bool:
    """POST `record` to `url` (default: its `callback_url`), retrying with back-off up to
    `callback_attempts` times; True once a 2xx answer came. Never raises for delivery
    problems: they are logged and give False."""
    url = url or record.get("callback_url")
    if not url:
        return False
    job_id = record.get("id", "?")
    for attempt in range(1, settings.callback_attempts + 1):
        outcome, reason = await post_once(record, url, settings, transport)
        if outcome is Delivery.DELIVERED:
            return True
        if outcome is Delivery.REFUSED or attempt == settings.callback_attempts:
            break
        delay = backoff_s(attempt, settings)
        log.info("callback for job %s failed (%s), attempt %d of %d; next in %.1fs",
                 job_id, reason, attempt, settings.callback_attempts, delay)
        await asyncio.sleep(delay)
    log.warning("callback for job %s to %s not delivered: %s", job_id, _safe(url), reason)
    return False


def _safe(url: str) -> str:
    """The URL without its userinfo and query (they may hold tokens), for logs."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<malformed URL>"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
