"""`SyncClient`: the asyncio `Client` for synchronous code (Django, Flask, scripts)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson

from .client import Client, Enqueued
from .connection import connect_sync
from .errors import translate_redis_errors
from .settings import Settings, get_settings

T = TypeVar("T")


class SyncClient:
    """The same client for synchronous code.

    It runs one `Client` on a private event loop in a daemon thread, so behaviour is the
    asyncio client's, call for call; `enqueue` alone (the call a web view makes per
    request) goes straight to Redis on a synchronous connection of its own, without the
    hop to that thread and back (the same script, the same record and envelope).
    """

    def __init__(self, client_factory: Callable[[], Client], *,
                 url: str | None = None, cluster: bool = False) -> None:
        self._direct = connect_sync(url, cluster=cluster) if url else None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agentq-sync",
                                        daemon=True)
        self._thread.start()
        self._client: Client = self._call(_make(client_factory))

    @classmethod
    def from_url(cls, url: str, namespace: str = "agentq", *, settings: Settings | None = None,
                 cluster: bool | None = None, **kw: Any) -> SyncClient:
        s = settings or get_settings()
        use_cluster = s.redis_cluster if cluster is None else cluster
        return cls(lambda: Client.from_url(url, namespace, settings=s, cluster=use_cluster, **kw),
                   url=url, cluster=use_cluster)

    @classmethod
    def from_env(cls, **kw: Any) -> SyncClient:
        s = get_settings()
        return cls.from_url(s.redis_url, s.namespace, settings=s, **kw)

    def enqueue(self, type: str, payload: Any = None, **options: Any) -> Enqueued:
        """`Client.enqueue`, one blocking round trip from the caller's own thread."""
        if self._direct is None:
            return self._call(self._client.enqueue(type, payload, **options))
        call, record = self._client._prepare(type, payload, **options)
        with translate_redis_errors():
            result = call.run_sync(self._direct)
            if result.created:
                return Enqueued(record["id"], record, True)
            existing = self._direct.get(self._client.keys.job(result.job_id))
        return Enqueued(result.job_id, orjson.loads(existing) if existing else record, False)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr
        return lambda *a, **kw: self._call(attr(*a, **kw))

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        try:
            self._call(self._client.close(), timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make(factory: Callable[[], Client]) -> Client:
    return factory()
