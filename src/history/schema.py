"""The history database's tables, in SQLAlchemy Core (the migrations create them).

Times are naive UTC datetimes (SQLite has no time zones), ids are the jobs' ULIDs, so
ordering by id is ordering by creation time.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: one row per job that ended (the latest end, when a job was retried)
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("type", String(200), nullable=False),
    Column("queue", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tenant", String(200)),
    Column("payload", JSON),
    Column("result", JSON),
    Column("error_type", String(32)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("queue_wait_s", Float),
    Column("run_s", Float),
    Column("worker", String(200)),
    Column("events", Integer, nullable=False),
    #: the job's LLM usage (the record's `usage`): tokens, and cost in US dollars (null
    #: without a price); null for a job that made no LLM call (revision 0003)
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("cost", Float),
    #: the record as `GET /jobs/{id}` showed it, to answer with the same shape
    Column("record", JSON, nullable=False),
    #: lower-cased payload JSON and error message, for `GET /jobs?q=`
    Column("search", Text, nullable=False),
    Column("archived_at", DateTime, nullable=False),
    Index("ix_jobs_created_at", "created_at"),
    Index("ix_jobs_finished_at", "finished_at"),
    Index("ix_jobs_status_type", "status", "type"),
)

#: one row per webhook received (`POST /webhooks/{source}`)
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(128), nullable=False, unique=True),
    Column("source", String(64), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", JSON),
    Index("ix_webhook_events_source_received", "source", "received_at"),
)
