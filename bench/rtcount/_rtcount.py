"""Count Redis round trips made by this process through redis-py.

Every request redis-py sends (one command, or one whole pipeline / MULTI block)
goes through ``send_packed_command`` exactly once, so counting those calls counts
round trips: an EVALSHA is one, a pipelined MULTI{SETEX, LPUSH} is one, and the
commands a Lua script runs inside the server are not counted (they are not
requests). All the queues benchmarked here talk to Redis through redis-py.

Enabled by ``sitecustomize`` when ``BENCH_RT_DIR`` is set; each process writes
``<pid>.json`` there when it exits (including ``os._exit`` in forked children).
"""

from __future__ import annotations

import atexit
import json
import os

_state = {"count": 0, "paused": False, "written": False}


def count() -> int:
    return _state["count"]


def pause(paused: bool) -> None:
    """Stop (or resume) counting, e.g. while the benchmark itself polls Redis."""
    _state["paused"] = paused


def _bump() -> None:
    if not _state["paused"]:
        _state["count"] += 1


def _write() -> None:
    directory = os.environ.get("BENCH_RT_DIR")
    if not directory or _state["written"]:
        return
    _state["written"] = True
    try:
        path = os.path.join(directory, f"{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump({"pid": os.getpid(), "round_trips": _state["count"]}, f)
    except OSError:
        pass


def _after_fork() -> None:
    _state["count"] = 0
    _state["written"] = False


def install() -> None:
    import redis.asyncio.connection as aconn
    import redis.connection as sconn

    sync_send = sconn.AbstractConnection.send_packed_command
    async_send = aconn.AbstractConnection.send_packed_command

    def send_packed_command(self, *args, **kwargs):
        _bump()
        return sync_send(self, *args, **kwargs)

    sconn.AbstractConnection.send_packed_command = send_packed_command

    # A connection class that sends its own way (agentq's skips redis-py's wait_for) is
    # counted where it sends; a send it hands back to redis-py's is not counted twice
    # (a mark on the connection, not on the task: tasks started meanwhile count their own).
    def counted_send(own):
        async def send(self, *args, **kwargs):
            if getattr(self, "_rtcount_sending", False):
                return await own(self, *args, **kwargs)
            _bump()
            self._rtcount_sending = True
            try:
                return await own(self, *args, **kwargs)
            finally:
                self._rtcount_sending = False
        return send

    async def base_send(self, *args, **kwargs):
        if not getattr(self, "_rtcount_sending", False):
            _bump()
        return await async_send(self, *args, **kwargs)

    aconn.AbstractConnection.send_packed_command = base_send
    base_init_subclass = aconn.AbstractConnection.__dict__.get("__init_subclass__")

    def wrap(cls):
        own = cls.send_packed_command
        if own is not base_send and not getattr(own, "_rtcounted", False):
            cls.send_packed_command = counted_send(own)
            cls.send_packed_command._rtcounted = True

    def init_subclass(cls, **kwargs):
        if base_init_subclass is not None:
            base_init_subclass.__func__(cls, **kwargs)
        wrap(cls)

    aconn.AbstractConnection.__init_subclass__ = classmethod(init_subclass)
    todo = list(aconn.AbstractConnection.__subclasses__())  # the classes made already
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        wrap(cls)

    real_exit = os._exit

    def _exit(code):
        _write()
        real_exit(code)

    os._exit = _exit
    os.register_at_fork(after_in_child=_after_fork)
    atexit.register(_write)
