"""Redis errors that pass by themselves answer 503 with Retry-After, never 500: a Redis
Cluster in failover (CLUSTERDOWN, TRYAGAIN, READONLY, MASTERDOWN, an uncovered slot) and
refused credentials, which say so without the password.

A real failover cannot be provoked quickly, so the errors are raised by hand: through the
queue's translation, and from a route of a real app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis import exceptions as redis_errors

from src.api.app import create_app
from src.api.settings import ApiSettings
from src.queue.errors import (
    RedisAuthFailed,
    RedisUnavailable,
    atranslate_redis_errors,
    translate_redis_errors,
)

FAILOVER = [
    redis_errors.ClusterDownError("CLUSTERDOWN The cluster is down"),
    redis_errors.TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
    redis_errors.ReadOnlyError("READONLY You can't write against a read only replica."),
    redis_errors.MasterDownError("MASTERDOWN Link with MASTER is down"),
    redis_errors.ClusterError("TTL exhausted."),
    redis_errors.SlotNotCoveredError("Command # 1 (GET x) of pipeline caused error: slot 7"),
]
AUTH = [
    redis_errors.AuthenticationError("invalid username-password pair or user is disabled."),
    redis_errors.AuthenticationWrongNumberOfArgsError(
        "wrong number of arguments for 'auth' command"
    ),
    redis_errors.ResponseError("NOAUTH Authentication required."),
    redis_errors.ResponseError("WRONGPASS invalid username-password pair or user is disabled."),
]
DOWN = [
    redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    redis_errors.TimeoutError("Timeout reading from socket"),
    ConnectionResetError(104, "Connection reset by peer"),
]


def ids(errors: list[BaseException]) -> list[str]:
    return [f"{type(e).__name__}-{str(e).split()[0]}" for e in errors]


@pytest.mark.parametrize("exc", FAILOVER + DOWN, ids=ids(FAILOVER + DOWN))
def test_failover_and_connection_errors_become_redis_unavailable(exc: Exception) -> None:
    with pytest.raises(RedisUnavailable) as info, translate_redis_errors():
        raise exc
    assert type(info.value) is RedisUnavailable
    assert info.value.__cause__ is exc


@pytest.mark.parametrize("exc", AUTH, ids=ids(AUTH))
async def test_refused_credentials_become_redis_auth_failed(exc: Exception) -> None:
    # AuthenticationError is a ConnectionError in redis-py: it must not end up as a plain
    # "unavailable".
    with pytest.raises(RedisAuthFailed, match="wrong or missing password"):
        async with atranslate_redis_errors():
            raise exc
    assert issubclass(RedisAuthFailed, RedisUnavailable)  # 503 wherever 503 is handled


@pytest.mark.parametrize(
    "exc",
    [redis_errors.ResponseError("ERR unknown command 'FOO'"),
     redis_errors.NoScriptError("NOSCRIPT No matching script."), ValueError("not Redis")],
    ids=["response-error", "noscript", "value-error"],
)
def test_other_errors_pass_unchanged(exc: Exception) -> None:
    with pytest.raises(type(exc)) as info, translate_redis_errors():
        raise exc
    assert info.value is exc


# --- through the API's handlers ---------------------------------------------------------


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A real app (no UI build) with routes that raise one error each, raw or translated."""
    app = create_app(ApiSettings(AGENTQ_WEB_DIR=str(tmp_path / "none"), AGENTQ_RETRY_AFTER_S=7,
                                 REDIS_URL="redis://:hunter2-pw@127.0.0.1:1/0"))
    errors = FAILOVER + AUTH + DOWN

    @app.get("/raw/{n}")
    async def raw(n: int) -> None:
        raise errors[n]

    @app.get("/translated/{n}")
    async def translated(n: int) -> None:
        async with atranslate_redis_errors():
            raise errors[n]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize("how", ["raw", "translated"])
@pytest.mark.parametrize("n", range(len(FAILOVER)), ids=ids(FAILOVER))
async def test_the_api_answers_503_to_a_cluster_in_failover(
    http: httpx.AsyncClient, how: str, n: int
) -> None:
    r = await http.get(f"/{how}/{n}")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "7"
    assert r.json() == {"detail": "Redis is unavailable; try again shortly"}


# redis-py raises NOAUTH and WRONGPASS replies as AuthenticationError: only the first two
# reach a route untranslated.
@pytest.mark.parametrize(
    ("how", "n"),
    [("raw", 0), ("raw", 1), *(("translated", n) for n in range(len(AUTH)))],
    ids=[f"raw-{i}" for i in ids(AUTH[:2])] + [f"translated-{i}" for i in ids(AUTH)],
)
async def test_the_api_answers_503_saying_authentication_failed(
    http: httpx.AsyncClient, how: str, n: int
) -> None:
    r = await http.get(f"/{how}/{len(FAILOVER) + n}")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "7"
    detail = r.json()["detail"]
    assert "authentication failed" in detail.lower() and "hunter2" not in r.text
