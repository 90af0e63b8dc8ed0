"""Connecting to Redis: one place that knows URLs, timeouts, cluster mode and packing."""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from redis import Redis as SyncRedis
from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import DataError

try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis is a declared dependency
    _HIREDIS = False
else:
    _HIREDIS = True


#: A callback to run once the next request of the current task is on the socket, before
#: its answer is read (`run_many(sent=...)` in scripts.py): what must not happen before the
#: request was sent, and need not wait for its answer.
AFTER_SEND: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "agentq_after_send", default=None)


def _sent() -> None:
    if (callback := AFTER_SEND.get()) is not None:
        AFTER_SEND.set(None)
        callback()


class _HiredisPacking:
    """Pack commands with hiredis's C encoder.

    redis-py's asyncio connections encode every argument in Python (its sync connections
    already use hiredis); for a worker sending scripts with a dozen arguments per job,
    that encoding was the largest cost in the profile.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the scripts (by SHA1) this connection loaded since it last connected
        self.scripts: set[str] = set()
        self.register_connect_callback(self._connected)  # type: ignore[attr-defined]

    def _connected(self, _connection: Any) -> None:
        # a new connection may face a new server (a restart forgets every script)
        self.scripts = set()

    def pack_command(self, *args: Any) -> list[bytes]:
        head = args[0]
        if isinstance(head, str):
            if " " in head:  # "CLIENT SETINFO"
                args = (*head.split(), *args[1:])
        elif b" " in head:
            args = (*head.split(), *args[1:])
        try:
            return [_hiredis_pack(args)]
        except TypeError:  # a bytearray or memoryview, which hiredis does not take
            pass
        try:
            cmd = tuple(bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args)
            # hiredis's stub types the argument as a 1-tuple (Tuple[X], not Tuple[X, ...])
            return [_hiredis_pack(cmd)]  # type: ignore[arg-type]
        except TypeError as exc:
            raise DataError(str(exc)) from exc

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [b"".join(self.pack_command(*cmd)[0] for cmd in commands)]

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send as redis-py does, without its `asyncio.wait_for` (a task per send, a tenth
        of a busy worker's time): the bytes go to the socket at once, and only a send that
        has to wait for the socket to drain (a full buffer) waits under the timeout."""
        writer = getattr(self, "_writer", None)
        if not (self.is_connected and writer is not None  # type: ignore[attr-defined]
                and isinstance(command, list) and not writer.transport.is_closing()):
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        if check_health:
            await self.check_health()  # type: ignore[attr-defined]
        try:
            writer.writelines(command)
            _sent()
            if writer.transport.get_write_buffer_size():
                async with asyncio.timeout(self.socket_timeout):  # type: ignore[attr-defined]
                    await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise redis_errors.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise redis_errors.ConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise


class FastConnection(_HiredisPacking, Connection):
    pass


class FastSSLConnection(_HiredisPacking, SSLConnection):
    pass


class FastUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


_CONNECTIONS = {"redis": FastConnection, "rediss": FastSSLConnection, "unix": FastUnixConnection}


def takes_requests(redis: Any) -> bool:
    """Whether `request` can talk to `redis`: a client of `connect` (not a cluster's)."""
    pool = getattr(redis, "connection_pool", None)
    return isinstance(pool, _Pool) and issubclass(pool.connection_class, _HiredisPacking)


async def request(redis: Any, commands: Sequence[Sequence[Any]],
                  scripts: Mapping[str, str] | None = None) -> list[Any]:
    """Send `commands` as one request on one of the pool's connections and read their
    answers, in order, error replies as exception values (a pipeline, without redis-py's
    per-command bookkeeping: one timeout for all the answers rather than one each, no
    response callbacks, no retry; what calls it retries, as after any Redis error).
    `AFTER_SEND` runs once the request is on the socket. See `takes_requests`.

    `scripts` (SHA1 → source) are the scripts the commands run: those this connection has
    not loaded since it connected are loaded ahead of them in the same request, so after
    a restart none is refused with NOSCRIPT, which would run the calls behind it first.
    """
    pool = redis.connection_pool
    conn = await pool.get_connection()
    try:
        missing = [(sha, src) for sha, src in (scripts or {}).items() if sha not in conn.scripts]
        loads = [("SCRIPT", "LOAD", src) for _, src in missing]
        await conn.send_packed_command(conn.pack_commands([*loads, *commands]))
        answers: list[Any] = []
        async with asyncio.timeout(conn.socket_timeout):
            for _ in range(len(loads) + len(commands)):
                try:
                    answers.append(await conn.read_response(timeout=math.inf))
                except redis_errors.ResponseError as exc:
                    answers.append(exc)
        for (sha, _), loaded in zip(missing, answers, strict=False):
            if isinstance(loaded, Exception):
                raise loaded
            conn.scripts.add(sha)
        return answers[len(loads):]
    except TimeoutError:
        await conn.disconnect(nowait=True)
        raise redis_errors.TimeoutError("Timeout reading from socket") from None
    except BaseException:
        await conn.disconnect(nowait=True)  # answers may be left unread on it
        raise
    finally:
        await pool.release(conn)


_blocking_get = getattr(aioredis.BlockingConnectionPool.get_connection, "__wrapped__",
                        aioredis.BlockingConnectionPool.get_connection)


class _Pool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, with a fast path for the common case.

    redis-py runs a condition, a timeout, an argument-inspecting deprecation decorator and
    its observability hooks on every checkout and return: about a quarter of an enqueue's
    time in its profile. An idle connection is handed out (still checked by
    `ensure_connection`) and taken back directly; only a caller that must wait for one
    goes through redis-py's own path, and a return wakes it.
    """

    _waiting = 0

    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        if self._available_connections and not getattr(self, "_in_maintenance", False):
            connection = self._available_connections.pop()
            self._in_use_connections.add(connection)
            try:
                await self.ensure_connection(connection)
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self._waiting += 1
        try:
            return await _blocking_get(self)
        finally:
            self._waiting -= 1

    async def release(self, connection: Any) -> None:
        if self._waiting or getattr(self, "_in_maintenance", False):
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():
            await connection.disconnect()
        self._available_connections.append(connection)


def is_cluster(redis: Any) -> bool:
    """Whether `redis` is a Redis Cluster client (its pipelines route command by command)."""
    return isinstance(redis, RedisCluster)


def connect(url: str, *, cluster: bool = False, socket_timeout: float | None = 10.0,
            max_connections: int = 200, **kw: Any) -> Any:
    """An asyncio Redis client (a connection pool) for `url`.

    The pool is bounded and blocking: past `max_connections`, a caller waits (up to the
    socket timeout) for a free connection instead of failing, so a burst of requests
    during a slow Redis moment queues rather than answering 503.

    `cluster=True` (or AGENTQ_REDIS_CLUSTER=1) uses redis-py's cluster client; every key of
    a namespace hashes to one slot, so scripts and pipelines work unchanged.
    """
    options: dict[str, Any] = {
        "socket_connect_timeout": 3.0,
        "socket_timeout": socket_timeout,
        **kw,
    }
    if cluster:
        return RedisCluster.from_url(url, max_connections=max_connections, **options)
    if _HIREDIS:
        options.setdefault("connection_class", _CONNECTIONS.get(urlparse(url).scheme, Connection))
    options.setdefault("health_check_interval", 30)
    pool = _Pool.from_url(
        url, max_connections=max_connections, timeout=socket_timeout or 10.0, **options)
    return aioredis.Redis.from_pool(pool)


def connect_sync(url: str, *, cluster: bool = False, **kw: Any) -> Any:
    """A synchronous redis-py client for `url` (what `SyncClient` enqueues with)."""
    options: dict[str, Any] = {"socket_connect_timeout": 3.0, "socket_timeout": 10.0, **kw}
    if cluster:
        return SyncRedisCluster.from_url(url, **options)
    return SyncRedis.from_url(url, **options)


#: What redis-py raises when Redis does not answer, or a cluster is failing over (a
#: worker's loops wait and try again).
REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError,
              redis_errors.ClusterDownError, redis_errors.TryAgainError,
              redis_errors.ReadOnlyError, redis_errors.MasterDownError)
