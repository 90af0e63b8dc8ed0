"""The LLM client's sockets: plain asyncio under httpx, with one timer per connection.

httpx reaches the network through httpcore's anyio backend, which opens a cancel scope
with its own timer for every read (`anyio.fail_after`): a worker streaming a thousand
answers at five pieces a second spent about a sixth of its time arming and cancelling
those timers. This backend keeps the same bounds (connect, read and write timeouts, as
httpx configures them) with a protocol that buffers what arrives and one deadline per
connection: a read that must wait sets the deadline, and the connection's timer, armed
only when none is, fails the read when the deadline passes without data (it re-arms
itself when a later read moved the deadline).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries `import sniffio` for every lock and shield it makes (seven a request);
    # a failed import is not cached, and searching the path each time cost more than the
    # request itself. A None entry makes the import fail at once, as it would anyway.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

#: Stop reading from the socket while this much is buffered and unread (bytes).
_HIGH_WATER = 256 * 1024

SocketOption = (tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                | tuple[int, int, None, int])


class _Protocol(asyncio.Protocol):
    """What arrives on one connection, and the reader waiting for it (one at a time)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._eof = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._deadline = 0.0  # when the waiting read fails (loop time)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake()
        self.resume_writing()  # a writer waiting goes on and finds the connection closed
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # -- reads -----------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _expire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no read waits: the next one that must wait arms the timer again
        if self._loop.time() < self._deadline:  # a later read moved the deadline
            self._arm()
            return
        waiter.set_exception(httpcore.ReadTimeout("no data within the read timeout"))

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self._deadline
        self._timer = self._loop.call_at(self._deadline, self._expire)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if not self._buffer and not self._eof:
            waiter = self._waiter = self._loop.create_future()
            if timeout is not None:
                self._deadline = self._loop.time() + timeout
                if self._timer is None or self._timer_at > self._deadline:
                    self._arm()
            try:
                await waiter
            finally:
                self._waiter = None
        if self._buffer:
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            if self._paused and len(self._buffer) <= _HIGH_WATER // 4 and self.transport:
                self._paused = False
                self.transport.resume_reading()
            return data
        if self._error is not None:
            raise httpcore.ReadError(str(self._error) or type(self._error).__name__)
        return b""

    async def drain(self, timeout: float | None) -> None:
        drained = self._drained
        if drained is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(drained), timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout("nothing taken within the write timeout") from None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()


class _Stream(AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol
        assert protocol.transport is not None
        self._transport = protocol.transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._protocol.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        await self._protocol.drain(timeout)

    async def aclose(self) -> None:
        self._protocol.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(loop.start_tls(
                self._transport, self._protocol, ssl_context, server_hostname=server_hostname),
                timeout)
        except TimeoutError:
            self._protocol.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self._protocol.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return _Stream(self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":  # an idle pooled connection the server closed
            p = self._protocol
            return bool(p._buffer) or p._eof or self._transport.is_closing()
        return None


class AsyncioBackend(AsyncNetworkBackend):
    """httpcore's network backend on the running asyncio loop (TCP and Unix sockets)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None,
                          ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        return await self._connect(
            loop.create_connection(lambda: _Protocol(loop), host, port, local_addr=local),
            timeout, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None,
                                  ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await self._connect(loop.create_unix_connection(lambda: _Protocol(loop), path),
                                   timeout, socket_options)

    async def _connect(self, opening: Any, timeout: float | None,
                       socket_options: Iterable[SocketOption] | None) -> AsyncNetworkStream:
        try:
            transport, protocol = await asyncio.wait_for(opening, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout("connecting timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        protocol.transport = transport
        sock: socket.socket | None = transport.get_extra_info("socket")
        for option in socket_options or ():
            if sock is not None:
                sock.setsockopt(*option)
        return _Stream(protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def use_asyncio_backend(client: Any) -> bool:
    """Put `AsyncioBackend` under an httpx client's own connection pool (not its proxies').

    True when it could: httpx keeps the pool in private attributes, so a version that
    moved them leaves the client as it was (anyio's backend: slower, as correct).
    """
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(
            pool, "_network_backend"):
        return False
    pool._network_backend = AsyncioBackend()
    return True
