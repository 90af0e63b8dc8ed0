"""A real PostgreSQL server for the history tests, started once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from .postgres import PostgresServer, find_bin

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Debian's `postgresql` on a free port; skipped when it is not installed, except in
    CI (`CI=true`), where a missing server is a failure (.ci/run installs it)."""
    bin_dir = find_bin()
    if bin_dir is None:
        message = ("PostgreSQL is not installed (apt-get install postgresql, or PG_BIN=<dir "
                   "of initdb and postgres>)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def new_postgres_database(postgres_server: PostgresServer) -> Callable[[], str]:
    """Factory: a fresh empty database on the session's server, by its URL."""
    return lambda: postgres_server.create_database(f"agentq_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def postgres_url(new_postgres_database: Callable[[], str]) -> str:
    """The `postgresql://` URL of an empty database created for this session."""
    return new_postgres_database()
