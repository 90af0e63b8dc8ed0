"""AGENTQ_RATE_LIMIT: `POST /jobs` over the rate answers 429 with Retry-After, per API key
(or per client address without keys); reads are not limited; off when empty."""

from __future__ import annotations

import time

import httpx
import pytest

from src.api.ratelimit import Rate, RateLimitMiddleware
from tests.api.support import Server
from tests.support import ValkeyServer

JOB = {"type": "echo", "payload": {"a": 1}, "queue": "nobody"}
KEYS = ("rate-key-one", "rate-key-two")


@pytest.mark.parametrize(("text", "rate"), [
    ("600/minute", Rate(600, 60)), ("10/second", Rate(10, 1)), ("100/30s", Rate(100, 30)),
    ("5000/hour", Rate(5000, 3600)), ("7/mins", Rate(7, 60)), (" 3 / 2 s ", Rate(3, 2)),
])
def test_rates_are_read(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_means_off(text: str | None) -> None:
    assert Rate.parse(text) is None


@pytest.mark.parametrize("text", ["600", "abc/minute", "0/minute", "10/fortnight", "100/ms", "-1/s"])
def test_unreadable_rates_fail_at_startup(text: str) -> None:
    with pytest.raises(ValueError, match="AGENTQ_RATE_LIMIT"):
        Rate.parse(text)


def test_callers_are_told_apart_by_valid_key_only() -> None:
    mw = RateLimitMiddleware(app=None, rate=Rate(1, 1), api_keys=list(KEYS))  # type: ignore[arg-type]

    def scope(auth: str | None, ip: str = "10.1.2.3") -> dict:
        headers = [(b"authorization", auth.encode())] if auth else []
        return {"type": "http", "headers": headers, "client": (ip, 5555)}

    one, two = mw.who(scope(f"Bearer {KEYS[0]}")), mw.who(scope(f"Bearer {KEYS[1]}"))
    assert one.startswith("key:") and two.startswith("key:") and one != two
    assert KEYS[0] not in one, "the key itself must not end up in a Redis key name"
    assert mw.who(scope(f"Bearer {KEYS[0]}", ip="10.9.9.9")) == one      # same key, any address
    assert mw.who(scope("Bearer made-up")) == "ip:10.1.2.3"              # invalid key: by address
    assert mw.who(scope(None)) == "ip:10.1.2.3"


def test_tenant_and_admin_keys_count_per_key() -> None:
    from src.api.app import create_app
    from src.api.settings import ApiSettings

    app = create_app(ApiSettings(AGENTQ_RATE_LIMIT="5/2s", AGENTQ_API_KEYS=f"acme:{KEYS[0]}",
                                 AGENTQ_ADMIN_KEYS=KEYS[1]))
    (limiter,) = [m for m in app.user_middleware if m.cls is RateLimitMiddleware]
    assert sorted(limiter.kwargs["api_keys"]) == sorted(KEYS)  # the keys, not `tenant:key`


@pytest.fixture(scope="module")
def limited(start_api_with) -> Server:
    return start_api_with(AGENTQ_RATE_LIMIT="5/2s", AGENTQ_API_KEYS=",".join(KEYS))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _wait_for_fresh_window(period_s: float = 2.0) -> None:
    time.sleep(period_s * 1.05 + 0.3)


def test_over_the_rate_is_429_with_retry_after(limited: Server) -> None:
    _wait_for_fresh_window()
    codes = [limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[0])).status_code for _ in range(5)]
    assert codes == [202] * 5
    r = limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[0]))
    assert r.status_code == 429
    # Whole seconds, rounded up; the window frees a slot up to period/20 late: 2.1 s → 3.
    assert 1 <= int(r.headers["retry-after"]) <= 3
    assert "rate limit" in r.json()["detail"]
    # Reads are not limited.
    assert limited.http.get("/jobs", headers=_auth(KEYS[0])).status_code == 200
    # Each key has its own budget.
    assert limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[1])).status_code == 202
    # Room comes back once Retry-After has passed.
    time.sleep(int(r.headers["retry-after"]) + 0.2)
    assert limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[0])).status_code == 202


def test_no_key_counts_by_address_and_still_gets_401(limited: Server) -> None:
    _wait_for_fresh_window()
    codes = [limited.http.post("/jobs", json=JOB, headers=_auth("wrong")).status_code for _ in range(7)]
    # Bad keys are refused, and hammering with them is limited too (per address).
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429], codes
    # A valid key is not held back by someone else's bad attempts from the same address.
    assert limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[1])).status_code == 202


def test_without_a_limit_nothing_is_refused(start_api_with) -> None:
    api = start_api_with()
    codes = {api.http.post("/jobs", json=JOB).status_code for _ in range(30)}
    assert codes == {202}


def test_rate_limit_with_redis_down_is_503_not_429_or_500(start_api_with) -> None:
    server = ValkeyServer().start()
    try:
        api = start_api_with(url=server.url, AGENTQ_RATE_LIMIT="100/minute")
        assert api.http.post("/jobs", json=JOB).status_code == 202
        server.stop()
        r = api.http.post("/jobs", json=JOB)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    finally:
        server.cleanup()


def test_rate_limited_answers_are_counted_in_metrics(limited: Server) -> None:
    _wait_for_fresh_window()
    for _ in range(6):
        limited.http.post("/jobs", json=JOB, headers=_auth(KEYS[0]))
    metrics = limited.http.get("/metrics").text
    assert any('status="429"' in line and 'route="' in line for line in metrics.splitlines()
               if line.startswith("agentq_http_requests_total")), metrics[:2000]


def test_browser_can_read_a_429_when_cors_is_open(start_api_with) -> None:
    api = start_api_with(AGENTQ_RATE_LIMIT="1/minute", AGENTQ_CORS_ORIGINS="https://app.example")
    origin = {"Origin": "https://app.example"}
    assert api.http.post("/jobs", json=JOB, headers=origin).status_code == 202
    r = api.http.post("/jobs", json=JOB, headers=origin)
    assert r.status_code == 429
    assert r.headers.get("access-control-allow-origin") == "https://app.example"
    assert isinstance(r, httpx.Response)
