"""A private PostgreSQL server for tests and benchmarks: Debian's `postgresql` binaries,
`initdb` into a temporary directory, `postgres` on a free port of 127.0.0.1, stopped by
its PID (SIGINT: fast shutdown; SIGKILL after a bound).

`initdb` and `postgres` refuse to run as root: as root they run as the `postgres` system
user (`setpriv`, which execs, so the PID we hold is the server's), in a directory under
/tmp made theirs. Trust authentication on 127.0.0.1 only; nothing else can reach it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

#: `PG_BIN` names the directory of `initdb` and `postgres`, else the newest Debian one
PG_BIN_ENV = "PG_BIN"
STOP_GRACE_S = 10.0
START_TIMEOUT_S = 30.0


def find_bin() -> Path | None:
    """The directory holding `initdb` and `postgres`, or None when PostgreSQL is absent."""
    candidates = [os.environ.get(PG_BIN_ENV, "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                         reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for directory in candidates:
        if directory and all(os.access(Path(directory) / b, os.X_OK)
                             for b in ("initdb", "postgres")):
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """`start()`, `stop()`, `restart()`, `create_database(name) -> url`, `cleanup()`.

    `durable=False` (tests) turns fsync off: a crash of the machine may lose the data,
    which a throwaway server does not mind. Benchmarks keep the defaults."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin = bin_dir
        self.durable = durable
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="agentq-pg-"))  # under /tmp, not tmp_path
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # Debian's package creates it
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            os.chmod(self.dir, 0o700)
            self._as_user = ["setpriv", "--reuid", "postgres", "--regid", "postgres",
                             "--init-groups", "--"]
        self._initdb()

    # -- lifecycle ---------------------------------------------------------------

    def _initdb(self) -> None:
        done = subprocess.run(
            [*self._as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=self.dir, capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off"]
        log = open(self.log, "ab")  # noqa: SIM115  (closed below; the child keeps its copy)
        try:
            self.proc = subprocess.Popen(
                [*self._as_user, str(self.bin / "postgres"), "-D", str(self.data),
                 "-p", str(self.port), "-k", str(self.dir), *settings],
                cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres did not start:\n{self.log_tail()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open sessions are ended), SIGKILL after STOP_GRACE_S."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- databases ---------------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def create_database(self, name: str) -> str:
        """A new empty database; its `postgresql://` URL."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


__all__ = ["PostgresServer", "find_bin"]
