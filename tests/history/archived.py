"""What the SQLite and the PostgreSQL history tests both check, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from src.history import History
from src.history.schema import jobs
from tests.api.support import Server, wait_for, wait_status


def rows(history: History, job_id: str) -> list[Any]:
    with history.engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).all()


def archived(history: History, job_id: str, timeout_s: float = 20) -> Any:
    """The job's row, once the archiver has written it."""
    (row,) = wait_for(lambda: rows(history, job_id), timeout_s=timeout_s)
    return row


def check_usage_columns(api: Server, history: History) -> None:
    """A job's LLM usage lands in its columns, queryable by task type."""
    job = api.http.post("/jobs", json={"type": "sentiment",
                                       "payload": {"text": "I love this queue"}}).json()
    done = wait_status(api.http, job["id"], {"succeeded"})
    usage = done["usage"]  # the offline provider reports no counts: estimated
    assert usage["calls"] == 1 and usage["estimated"] is True and usage["prompt_tokens"] > 0
    row = archived(history, job["id"])
    assert (row.prompt_tokens, row.completion_tokens) == (usage["prompt_tokens"],
                                                          usage["completion_tokens"])
    assert row.cost == usage["cost"] == (row.prompt_tokens * 2 + row.completion_tokens * 8) / 1e6
    with history.engine.connect() as conn:  # queryable: the tokens of a task type
        total = conn.execute(select(func.sum(jobs.c.prompt_tokens + jobs.c.completion_tokens))
                             .where(jobs.c.type == "sentiment")).scalar()
    assert total >= row.prompt_tokens + row.completion_tokens
