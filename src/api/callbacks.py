"""Outbound completion callbacks: POST a finished job's record to its `callback_url`.

The body is the record as JSON, signed like inbound webhooks (`X-Signature-256`) when
`AGENTQ_WEBHOOK_SECRET` is set. Delivery retries with exponential back-off on network
errors, 5xx, 408 and 429. A URL whose host is, or resolves to, a private, loopback,
link-local or otherwise non-public address is refused unless that host is listed in
`AGENTQ_CALLBACK_ALLOW`, so a job cannot make the service call into its own network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from src.api.settings import get_settings
from src.api.signing import SIGNATURE_HEADER, sign

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
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _is_public(ip):
            raise CallbackRefused(
                f"host {host} resolves to the non-public address {ip}; "
                "add it to AGENTQ_CALLBACK_ALLOW"
            )


async def deliver_callback(
    record: dict[str, Any],
    settings: CallbackSettings | str | None = None,
    *,
    url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bool:
    """POST `record` to `url` (default: its `callback_url`); True once a 2xx answer came.

    `settings` defaults to the API settings read from the environment; a string in its
    place is taken as the URL (`deliver_callback(record, url)`). Never raises for delivery
    problems: a refused URL, a 4xx answer or the last failed attempt are logged and give False.
    """
    if isinstance(settings, str):
        url, settings = url or settings, None
    if settings is None:
        settings = get_settings()
    url = url or record.get("callback_url")
    if not url:
        return False
    job_id = record.get("id", "?")
    try:
        await check_callback_url(url, settings.callback_allow)
    except CallbackRefused as exc:
        log.warning("callback for job %s refused: %s", job_id, exc)
        return False

    body = orjson.dumps(record)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agentq-callback/1",
        "X-Agentq-Job-Id": str(job_id),
    }
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, settings.webhook_secret)

    async with httpx.AsyncClient(
        timeout=settings.callback_timeout_s,
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    ) as http:
        for attempt in range(1, settings.callback_attempts + 1):
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return True
                reason = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in _RETRY_STATUSES:
                    log.warning("callback for job %s to %s rejected: %s", job_id, url, reason)
                    return False
            if attempt == settings.callback_attempts:
                break
            delay = min(_MAX_BACKOFF_S, settings.callback_backoff_s * 2 ** (attempt - 1))
            delay *= random.uniform(0.8, 1.2)
            log.info(
                "callback for job %s failed (%s), attempt %d of %d; next in %.1fs",
                job_id,
                reason,
                attempt,
                settings.callback_attempts,
                delay,
            )
            await asyncio.sleep(delay)
    log.warning("callback for job %s to %s gave up: %s", job_id, url, reason)
    return False
