"""`SyncClient`: the asyncio `Client` for synchronous code (Django, Flask, scripts)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .client import Client

T = TypeVar("T")


class SyncClient:
    """The same client for synchronous code.

    It runs one `Client` on a private event loop in a daemon thread, so behaviour is the
    asyncio client's, call for call.
    """

    def __init__(self, client_factory: Callable[[], Client]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agentq-sync",
                                        daemon=True)
        self._thread.start()
        self._client: Client = self._call(_make(client_factory))

    @classmethod
    def from_url(cls, url: str, namespace: str = "agentq", **kw: Any) -> SyncClient:
        return cls(lambda: Client.from_url(url, namespace, **kw))

    @classmethod
    def from_env(cls, **kw: Any) -> SyncClient:
        return cls(lambda: Client.from_env(**kw))

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr
        return lambda *a, **kw: self._call(attr(*a, **kw))

    def close(self) -> None:
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
