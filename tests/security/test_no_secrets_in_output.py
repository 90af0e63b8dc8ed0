"""No secret in what agentq prints: a password-protected Valkey, then `make run`
(`python -m src.run`), the CLI and a worker, each with a wrong password and with the right
one. Neither password, nor an API key of AGENTQ_API_KEYS (a tenant's, `tenant:key`) or
AGENTQ_ADMIN_KEYS, nor LLM_API_KEY may appear in their output (stdout and stderr), and the
wrong-password runs say authentication failed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.support import FAST_ENV, ROOT, start_api, stop_process
from tests.cli.test_run import start_run, stop
from tests.support import ValkeyServer, WorkerProcess, free_port

PASSWORD = f"Pw-{secrets.token_hex(8)}"
WRONG = f"wrong-{secrets.token_hex(8)}"
API_KEY = f"ak-{secrets.token_hex(8)}"
ADMIN_KEY = f"adm-{secrets.token_hex(8)}"
LLM_KEY = f"sk-llm-{secrets.token_hex(8)}"
SECRETS = {"the password": PASSWORD, "the wrong password": WRONG, "the API key": API_KEY,
           "the admin key": ADMIN_KEY, "the LLM key": LLM_KEY}
#: AGENTQ_API_KEYS and AGENTQ_ADMIN_KEYS of every process: the API key is tenant acme's
KEYS_ENV = {"AGENTQ_API_KEYS": f"other-key,acme:{API_KEY}", "AGENTQ_ADMIN_KEYS": ADMIN_KEY}
AUTH_FAILED = "authentication failed"
MASKED = ":***@127.0.0.1:"


@pytest.fixture(scope="module")
def locked() -> Iterator[ValkeyServer]:
    server = ValkeyServer(password=PASSWORD).start()
    yield server
    server.cleanup()


def url(server: ValkeyServer, password: str) -> str:
    return f"redis://:{password}@127.0.0.1:{server.port}/0"


def environment(redis_url: str, namespace: str, **extra: str) -> dict[str, str]:
    """What every process gets: the URL, an API key, a model key, fast timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "LLM_"))}
    env.update(FAST_ENV)
    env.update(
        REDIS_URL=redis_url,
        AGENTQ_NAMESPACE=namespace,
        **KEYS_ENV,
        LLM_API_KEY=LLM_KEY,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def assert_no_secret(output: str, what: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in output, f"{name} appears in the output of {what}:\n{output}"


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "src.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd, env=env, check=False,
    )


# --- make run -------------------------------------------------------------------------


def test_run_with_a_wrong_password_says_authentication_failed(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    env = environment(url(locked, WRONG), "secrun", PORT=str(free_port()), WORKERS="1",
                      AGENTQ_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "src.run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        stop_process(proc)
    output = out.decode(errors="replace")
    assert proc.returncode != 0, output
    assert AUTH_FAILED in output.lower() and MASKED in output, output
    assert not (tmp_path / "data").exists(), "it tried to start a server of its own"
    assert_no_secret(output, "make run (wrong password)")


def test_run_with_the_password_shows_none_of_the_secrets(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    run = start_run(tmp_path, url(locked, PASSWORD), workers=1,
                    env={**KEYS_ENV, "LLM_API_KEY": LLM_KEY})
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        r = httpx.post(f"{run.api}/jobs", params={"wait": 20}, headers=headers,
                       json={"type": "add", "payload": {"x": 2, "y": 2}}, timeout=30)
        assert r.status_code == 200 and r.json()["result"] == 4, r.text
        refused = httpx.get(f"{run.api}/jobs", headers={"Authorization": f"Bearer {WRONG}"},
                            timeout=10)
        assert refused.status_code == 401
        assert_no_secret(r.text + refused.text, "the API's answers")
    finally:
        assert stop(run) == 0, run.output()
    output = run.output()
    assert f"using the Redis at redis://{MASKED}{locked.port}/0" in output, output
    assert_no_secret(output, "make run")


# --- the command line -------------------------------------------------------------------


@pytest.mark.parametrize("args", [("stats",), ("status", "01JD6Z5Q3M8X4K2V7B9N0C1D2E"),
                                  ("submit", "add", "--payload", '{"x": 1, "y": 2}')],
                         ids=["stats", "status", "submit"])
def test_cli_with_a_wrong_password_says_authentication_failed(
    locked: ValkeyServer, tmp_path: Path, args: tuple[str, ...]
) -> None:
    done = cli(environment(url(locked, WRONG), "seccli"), tmp_path, *args)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert AUTH_FAILED in output.lower() and MASKED in output, output
    assert_no_secret(output, f"agentq {args[0]} (wrong password)")


def test_cli_with_the_password_shows_none_of_the_secrets(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    env = environment(url(locked, PASSWORD), f"seccli{uuid.uuid4().hex[:6]}")
    submitted = cli(env, tmp_path, "submit", "add", "--payload", '{"x": 1, "y": 2}')
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    runs = [submitted, cli(env, tmp_path, "status", job_id), cli(env, tmp_path, "stats")]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert_no_secret(done.stdout + done.stderr, f"agentq {done.args[3]}")


def test_cli_with_redis_down_masks_the_password(tmp_path: Path) -> None:
    down = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"  # nothing listens there
    done = cli(environment(down, "seccli"), tmp_path, "stats")
    output = done.stdout + done.stderr
    assert done.returncode == 3 and "unavailable" in output and MASKED in output, output
    assert_no_secret(output, "agentq stats (Redis down)")


# --- a worker ----------------------------------------------------------------------------


def test_worker_with_a_wrong_password_says_authentication_failed(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    worker = WorkerProcess(url(locked, WRONG), "secworker", concurrency=1,
                           env=environment(url(locked, WRONG), "secworker"),
                           log_path=tmp_path / "worker.log")
    try:
        code = worker.wait(timeout=30)
    finally:
        worker.stop(timeout=5)
    output = worker.log()
    assert code == 2, output
    assert AUTH_FAILED in output.lower() and MASKED in output, output
    assert_no_secret(output, "a worker (wrong password)")


def test_worker_with_the_password_shows_none_of_the_secrets(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    namespace = f"secworker{uuid.uuid4().hex[:6]}"
    env = environment(url(locked, PASSWORD), namespace)
    worker = WorkerProcess(url(locked, PASSWORD), namespace, concurrency=1, env=env,
                           log_path=tmp_path / "worker.log")
    try:
        done = cli(env, tmp_path, "submit", "add", "--payload", '{"x": 3, "y": 4}',
                   "--wait", "20")
        assert done.returncode == 0, done.stderr + worker.log()
        assert json.loads(done.stdout)["result"] == 7
    finally:
        assert worker.stop() == 0, worker.log()
    output = worker.log()
    assert MASKED in output, output  # the start-up line names the server, masked
    assert_no_secret(output, "a worker")


# --- the API alone -----------------------------------------------------------------------


def test_api_with_a_wrong_password_answers_503_saying_authentication_failed(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    server = start_api(tmp_path / "api", environment(url(locked, WRONG), "secapi"))
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        answers = [
            server.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1}},
                             headers=headers),
            server.http.get("/jobs", headers=headers),
            server.http.get("/queues"),
        ]
        for r in answers:
            assert r.status_code == 503, r.text
            assert int(r.headers["retry-after"]) >= 1
            assert AUTH_FAILED in r.json()["detail"].lower(), r.text
            assert_no_secret(r.text, f"the API's answer to {r.request.url.path}")
        ready = server.http.get("/ready")
        assert ready.status_code == 503 and "password" in ready.json()["redis"]
        assert_no_secret(ready.text, "/ready")
    finally:
        server.http.close()
        stop_process(server.proc)
    assert_no_secret(server.log.read_text(errors="replace"), "the API's log")


def test_api_with_tenant_and_admin_keys_shows_none_of_them(
    locked: ValkeyServer, tmp_path: Path
) -> None:
    server = start_api(tmp_path / "api", environment(url(locked, PASSWORD),
                                                     f"secapi{uuid.uuid4().hex[:6]}"))
    try:
        mine = server.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1},
                                               "queue": "nobody"},
                                headers={"Authorization": f"Bearer {API_KEY}"})
        assert mine.status_code == 202 and mine.json()["tenant"] == "acme", mine.text
        job = mine.json()["id"]
        answers = [
            mine,
            server.http.get(f"/jobs/{job}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}),
            server.http.get(f"/jobs/{job}", headers={"Authorization": "Bearer other-key"}),
            server.http.get("/jobs", headers={"Authorization": f"Bearer {API_KEY}x"}),
            server.http.get("/queues", headers={"Authorization": f"Bearer {ADMIN_KEY}"}),
        ]
        assert [r.status_code for r in answers] == [202, 200, 404, 401, 200]
        for r in answers:
            assert_no_secret(r.text + str(r.headers), f"the API's answer to {r.request.url}")
    finally:
        server.http.close()
        stop_process(server.proc)
    assert_no_secret(server.log.read_text(errors="replace"), "the API's log")


@pytest.mark.parametrize("entries", [f"other-key,:{API_KEY}", f"other-key,{'t' * 65}:{API_KEY}",
                                     f"other-key,a b:{API_KEY}", f"other-key,{API_KEY}:"])
def test_api_refuses_a_bad_tenant_entry_without_showing_the_key(
    locked: ValkeyServer, tmp_path: Path, entries: str
) -> None:
    env = {**environment(url(locked, PASSWORD), "secbad"), "AGENTQ_API_KEYS": entries}
    with pytest.raises(RuntimeError) as failed:
        start_api(tmp_path / "api", env)
    output = str(failed.value)
    assert "AGENTQ_API_KEYS entry 2" in output, output
    assert_no_secret(output, "the API refusing its keys")
