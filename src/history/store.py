"""The history database: migrations, archiving (idempotent upserts) and reads.

Synchronous SQLAlchemy 2 Core on a small pool; async callers run these methods in a
thread (`asyncio.to_thread`). `sqlite:///path.db` and `postgresql://...` (psycopg 3)
work; the schema is versioned with Alembic (`migrations/`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, and_, create_engine, delete, event, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from src.queue.models import DEFAULT_TENANT, dumps

from .schema import jobs, webhook_events

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_ID = 0x61676E71  # "agnq": one advisory lock for migrations


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for `url`: `postgresql://` goes through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def utc(text_or_dt: str | datetime | None) -> datetime | None:
    """An ISO time of a record (or a datetime) as a naive UTC datetime."""
    if text_or_dt is None or text_or_dt == "":
        return None
    if isinstance(text_or_dt, datetime):
        dt = text_or_dt
    else:
        dt = datetime.fromisoformat(text_or_dt.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else max(0.0, (end - start).total_seconds())


def job_row(record: dict[str, Any], events: int) -> dict[str, Any]:
    """The `jobs` row of a record that ended."""
    created, started, finished = (utc(record.get("created_at")), utc(record.get("started_at")),
                                  utc(record.get("finished_at")))
    error = record.get("error") or {}
    usage = record.get("usage") or {}
    search = (dumps(record.get("payload")) + "\n" + (error.get("message") or "")).lower()
    return {
        "id": record["id"], "type": record["type"], "queue": record["queue"],
        "status": record["status"], "tenant": record.get("tenant"),
        "payload": record.get("payload"), "result": record.get("result"),
        "error_type": error.get("type"), "error_message": error.get("message"),
        "attempts": int(record.get("attempt") or 0),
        "max_attempts": int(record.get("max_attempts") or 1),
        "created_at": created or finished or datetime.now(UTC).replace(tzinfo=None),
        "started_at": started, "finished_at": finished,
        "queue_wait_s": _seconds(created, started), "run_s": _seconds(started, finished),
        "worker": record.get("worker"), "events": events, "record": record, "search": search,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"), "cost": usage.get("cost"),
        "archived_at": datetime.now(UTC).replace(tzinfo=None),
    }


class History:
    """One history database. Thread-safe (a connection pool)."""

    def __init__(self, url: str) -> None:
        self.url = url
        ensure_parent(url)
        self.engine: Engine = create_engine(engine_url(url), pool_pre_ping=True,
                                            **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -----------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, under a lock: several processes starting at once
        on an empty database are safe."""
        with self._migration_lock(), self.engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                    conn.commit()
            return
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield
            return
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        with open(f"{database}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- writes -----------------------------------------------------------------

    def archive_jobs(self, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert job rows by id: archiving the same job twice leaves one row."""
        if rows:
            with self.engine.begin() as conn:
                _upsert(conn, jobs, rows, "id")

    def archive_webhooks(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                _upsert(conn, webhook_events, rows, "job_id")

    def prune(self, days: float) -> int:
        """Delete job and webhook rows older than `days`; how many job rows went."""
        cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(jobs).where(jobs.c.created_at < cutoff)).rowcount
            conn.execute(delete(webhook_events).where(webhook_events.c.received_at < cutoff))
        return int(gone or 0)

    # -- reads ------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The archived record (with `archived: true`), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs.c.record).where(jobs.c.id == job_id)).first()
        return None if row is None else {**row.record, "archived": True}

    def list(
        self, *, status: str | None = None, type: str | None = None, queue: str | None = None,
        since: datetime | None = None, until: datetime | None = None, q: str | None = None,
        before: str | None = None, limit: int = 50, tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        """Archived records, newest first (by id), filtered; `before` is an exclusive id;
        `tenant` keeps that tenant's jobs only (None: every tenant's)."""
        where = _tenant_filter(tenant)
        for column, value in ((jobs.c.status, status), (jobs.c.type, type),
                              (jobs.c.queue, queue)):
            if value:
                where.append(column == value)
        if since:
            where.append(jobs.c.created_at >= utc(since))
        if until:
            where.append(jobs.c.created_at < utc(until))
        if q:
            where.append(jobs.c.search.contains(q.lower(), autoescape=True))
        if before:
            where.append(jobs.c.id < before)
        query = select(jobs.c.record).where(and_(True, *where)).order_by(jobs.c.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [{**r.record, "archived": True} for r in rows]

    def stats(self, hours: int = 24, tenant: str | None = None) -> dict[str, Any]:
        """For the Dashboard: jobs per hour by status, and run time p50/p95 per task type,
        over the last `hours` (of one tenant's jobs, or of all with `tenant` None)."""
        since = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours)
        with self.engine.connect() as conn:
            ended = conn.execute(
                select(jobs.c.finished_at, jobs.c.status, jobs.c.type, jobs.c.run_s)
                .where(jobs.c.finished_at >= since, *_tenant_filter(tenant))).all()
        per_hour: dict[str, dict[str, int]] = {}
        run_times: dict[str, list[float]] = {}
        for finished, status, type_, run_s in ended:
            hour = finished.replace(minute=0, second=0, microsecond=0).isoformat() + "Z"
            per_hour.setdefault(hour, {})
            per_hour[hour][status] = per_hour[hour].get(status, 0) + 1
            if run_s is not None and status == "succeeded":
                run_times.setdefault(type_, []).append(run_s)
        return {
            "since": since.isoformat() + "Z",
            "per_hour": [{"hour": h, **counts} for h, counts in sorted(per_hour.items())],
            "run_time": [{"type": t, "count": len(v), "p50_s": _pct(v, 0.5), "p95_s": _pct(v, 0.95)}
                         for t, v in sorted(run_times.items())],
        }

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())


def _tenant_filter(tenant: str | None) -> list[Any]:
    """The WHERE clause of one tenant's rows (the default tenant's have no tenant)."""
    if tenant is None:
        return []
    if tenant == DEFAULT_TENANT:
        return [or_(jobs.c.tenant.is_(None), jobs.c.tenant == DEFAULT_TENANT)]
    return [jobs.c.tenant == tenant]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def _upsert(conn: Connection, table: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
    """One cached single-row upsert, executed for all rows (SQLAlchemy batches them):
    a multi-row VALUES statement would be compiled anew for every batch size."""
    conn.execute(_upsert_statement(conn.dialect.name, table, key), list(rows))


@functools.cache
def _upsert_statement(dialect_name: str, table: Any, key: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    update = {c.name: stmt.excluded[c.name] for c in table.columns
              if c.name not in (key, "id")}
    return stmt.on_conflict_do_update(index_elements=[key], set_=update)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_size": 4, "max_overflow": 4, "connect_args": {"connect_timeout": 5}}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def ensure_parent(url: str) -> None:
    """Create the folder of a SQLite file, so a fresh `.data/` works."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///"):])) or ".",
                    exist_ok=True)


__all__ = ["History", "engine_url", "ensure_parent", "job_row", "utc"]
