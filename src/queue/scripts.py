"""Lua scripts: one file per atomic operation in `lua/`, loaded once per client.

A line `--- @include "name"` is replaced by `lua/name.lua` (files starting with `_` are
includes, not scripts). Scripts run by EVALSHA; when the server has forgotten one
(NOSCRIPT, after a restart or SCRIPT FLUSH) it is loaded again and the call repeated.
`Call` is one such call with its answer's decoder; `ops.py` builds them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from redis import exceptions as redis_errors

from .connection import AFTER_SEND, request, takes_requests

T = TypeVar("T")

LUA_DIR = Path(__file__).with_name("lua")
_INCLUDE = re.compile(r'^--- @include "(?P<name>[\w-]+)"\s*$', re.M)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


def _resolve(name: str, seen: tuple[str, ...] = ()) -> str:
    if name in seen:
        raise ValueError(f"circular @include: {' -> '.join((*seen, name))}")
    text = (LUA_DIR / f"{name}.lua").read_text()
    return _INCLUDE.sub(lambda m: _resolve(m["name"], (*seen, name)), text)


@cache
def load_all() -> dict[str, Script]:
    """Every script in `lua/` by name, with its includes resolved."""
    scripts = {}
    for path in sorted(LUA_DIR.glob("*.lua")):
        if path.stem.startswith("_"):
            continue
        source = _resolve(path.stem)
        scripts[path.stem] = Script(path.stem, source, hashlib.sha1(source.encode()).hexdigest())
    return scripts


def _args(script: Script, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
    return (script.sha, len(keys), *keys, *args)


def run_sync(redis: Any, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """`run` with a synchronous redis-py client (`SyncClient`'s enqueue path)."""
    script = load_all()[name]
    try:
        return redis.evalsha(*_args(script, keys, args))
    except redis_errors.NoScriptError:
        redis.script_load(script.source)
        return redis.evalsha(*_args(script, keys, args))


async def run(redis: Any, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """Run one script with EVALSHA, loading it on NOSCRIPT."""
    script = load_all()[name]
    try:
        return await redis.evalsha(*_args(script, keys, args))
    except redis_errors.NoScriptError:
        await redis.script_load(script.source)
        return await redis.evalsha(*_args(script, keys, args))


async def run_many(
    redis: Any, calls: Sequence[tuple[str, Sequence[str], Sequence[Any]]],
    then: Sequence[Sequence[Any]] = (), first: Sequence[Any] | None = None,
    sent: Callable[[], None] | None = None,
) -> list[Any]:
    """Run several scripts in one round trip (a non-transactional pipeline).

    `then`: plain commands to send after the scripts; their answers follow. `first`: one
    plain command to send before them (a blocking one: the scripts run as soon as it
    returns, without another round trip; not on a cluster); its answer comes first.
    `sent()` runs as soon as the request is on the socket, before the answers are read (on
    a connection that cannot tell, once they are; not at all when the request failed).
    A call refused with NOSCRIPT did not run: those alone are repeated after loading.
    """
    if not calls and not then:
        return []
    scripts = load_all()
    used = {scripts[name].sha: scripts[name].source for name, _, _ in calls}
    if not takes_requests(redis):  # our connections load them within the request
        await _preload(redis, {name for name, _, _ in calls}, scripts)
    commands = [("EVALSHA", *_args(scripts[name], keys, args)) for name, keys, args in calls]
    head = [first] if first is not None else []
    answers = await _send(redis, [*head, *commands, *then], sent, used)
    before, results = answers[:len(head)], answers[len(head):]
    missing = [i for i, r in enumerate(results) if isinstance(r, redis_errors.NoScriptError)]
    if missing:  # the server forgot them (a restart, SCRIPT FLUSH): later calls ran first
        _loaded(redis).clear()
        for name in {calls[i][0] for i in missing}:
            await redis.script_load(scripts[name].source)
        again = await _send(redis, [commands[i] for i in missing], None, used)
        for i, r in zip(missing, again, strict=True):
            results[i] = r
    for r in (*before, *results):
        if isinstance(r, Exception):
            raise r
    return before + results


async def _send(redis: Any, commands: list[Sequence[Any]], sent: Callable[[], None] | None,
                scripts: dict[str, str]) -> list[Any]:
    token = AFTER_SEND.set(sent)
    try:
        if takes_requests(redis):
            answers = await request(redis, commands, scripts)
        else:  # a cluster (EVALSHA through `execute_command`: its pipeline has no `evalsha`)
            async with redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                answers = await pipe.execute(raise_on_error=False)
    finally:
        unsent = AFTER_SEND.get() is not None
        AFTER_SEND.reset(token)
    if sent is not None and unsent:
        sent()
    return answers


def _loaded(redis: Any) -> set[str]:
    """The scripts this client has loaded (by name), kept on the client itself."""
    loaded: set[str] | None = getattr(redis, "_agentq_scripts_loaded", None)
    if loaded is None:
        loaded = set()
        redis._agentq_scripts_loaded = loaded
    return loaded


async def _preload(redis: Any, names: set[str], scripts: dict[str, Script]) -> None:
    """SCRIPT LOAD, before a pipeline, the scripts this client has not run yet.

    A call refused with NOSCRIPT is repeated after the calls behind it in its pipeline
    ran: a job's events repeated after its outcome were refused (the job no longer
    running), so a script a pipeline relies on for order must be on the server first.
    """
    loaded = _loaded(redis)
    for name in sorted(names - loaded):
        await redis.script_load(scripts[name].source)
        loaded.add(name)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One script call: `await call`, or `await ops.run_all([call, ...])`."""

    redis: Any
    script: str
    keys: Sequence[str]
    args: Sequence[Any]
    decode: Callable[[Any], T]

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    def run_sync(self, redis: Any) -> T:
        """Run the script now with a synchronous redis-py client of the same server."""
        return self.decode(run_sync(redis, self.script, self.keys, self.args))

    async def _run(self) -> T:
        return self.decode(await run(self.redis, self.script, self.keys, self.args))
