"""compose.yaml, Dockerfile, .dockerignore and .env.example: validated and held to the
points deployment relies on (health gates, scaling, graceful stop, configuration)."""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._compose import COMPOSE, ROOT, dotenv, interpolate, run_dclint, service_env

# CONTRACT §2, plus the worker's shutdown window and the cluster switch of src/queue.
CONTRACT_VARS = [
    "REDIS_URL", "AGENTQ_NAMESPACE", "AGENTQ_RESULT_TTL_S", "AGENTQ_JOB_TTL_S",
    "AGENTQ_HEARTBEAT_S", "AGENTQ_WORKER_TIMEOUT_S", "AGENTQ_API_KEYS",
    "AGENTQ_MAX_PAYLOAD_BYTES", "AGENTQ_WEBHOOK_SECRET", "AGENTQ_TASK_MODULES", "AGENTQ_SCHEDULES",
    "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL",
]
LLM_LIMIT_VARS = ["LLM_RPM", "LLM_TPM", "LLM_RATELIMIT_PERIOD_S", "LLM_READ_TIMEOUT_S",
                  "LLM_OFFLINE_DELAY_S"]
# The job history (its password reaches libpq as PGPASSWORD, from POSTGRES_PASSWORD).
HISTORY_VARS = ["AGENTQ_DATABASE_URL", "AGENTQ_HISTORY_DAYS", "AGENTQ_ARCHIVE_MAX"]
DEPLOY_VARS = [*CONTRACT_VARS, "AGENTQ_SHUTDOWN_GRACE_S", "AGENTQ_REDIS_CLUSTER", *LLM_LIMIT_VARS,
               *HISTORY_VARS]
COMPOSE_DATABASE_URL = "postgresql://agentq@postgres:5432/agentq"

API_COMMAND = ["uvicorn", "src.api.app:app", "--host", "0.0.0.0", "--port", "8000"]
WORKER_COMMAND = ["python", "-m", "src.worker"]


def _seconds(duration: str | int | float) -> float:
    """A compose duration ("1m30s", "45s", "500ms") in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(a + u for a, u in parts) == duration, duration
    return sum(float(a) * units[u] for a, u in parts)


# --- real validators ---------------------------------------------------------------


def test_dclint_finds_no_problem(dclint):
    code, messages = run_dclint(dclint, COMPOSE)
    assert messages == [], "\n".join(
        f"{m['line']}: {m['type']} {m['message']} ({m['rule']})" for m in messages
    )
    assert code == 0


def test_dclint_catches_a_broken_file(dclint, tmp_path):
    # The validator is real: it fails on an unbound published port and on a bad key.
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text()
        .replace("'127.0.0.1:8000:8000'", "'8000:8000'")
        .replace("stop_grace_period:", "stop_grace_periods:")
    )
    code, messages = run_dclint(dclint, broken)
    assert code != 0
    assert {m["rule"] for m in messages} & {"invalid-schema", "no-unbound-port-interfaces"}


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_it(tmp_path, compose):
    # docker-compose 1.29 predates the top-level `name:` of the Compose Specification
    # (docker compose v2 reads it); everything else must pass its validation as is.
    legacy = tmp_path / "compose.yaml"
    legacy.write_text(re.sub(r"(?m)^name: .*\n", "", COMPOSE.read_text()))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "-f", str(legacy), "config"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    yaml = pytest.importorskip("yaml")
    resolved = yaml.safe_load(done.stdout)
    # Our reading of the ${...} defaults is compose's own. docker-compose also reads the
    # project's .env, so compare only when there is none.
    if not (ROOT / ".env").exists():
        for name in ("api", "worker"):
            assert resolved["services"][name]["environment"] == service_env(
                compose["services"][name], {}
            )
    assert resolved["services"]["worker"]["deploy"]["replicas"] == 2


# --- services ----------------------------------------------------------------------


def test_redis_is_pinned_persistent_and_health_checked(compose):
    redis = compose["services"]["redis"]
    image, _, tag = redis["image"].partition("@")[0].rpartition(":")
    assert image in {"valkey/valkey", "redis"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.]+)?", tag), f"unpinned tag {tag!r}"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]
    test = redis["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] in {"valkey-cli", "redis-cli"} and test[2] == "ping"
    assert "ports" not in redis


def test_api_runs_uvicorn_on_localhost_and_waits_for_redis(compose):
    api = compose["services"]["api"]
    assert api["command"] == API_COMMAND
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert api["depends_on"] == {"redis": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["healthcheck"]["test"][0] == "CMD"


def test_workers_scale(compose):
    worker = compose["services"]["worker"]
    assert worker["command"] == WORKER_COMMAND
    # `docker compose up --scale worker=N` needs no fixed name and no host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"] == {"redis": {"condition": "service_healthy"},
                                    "migrate": {"condition": "service_completed_successfully"}}
    assert worker["restart"] == "unless-stopped"


def test_stop_grace_period_outlasts_the_workers_shutdown_window(compose):
    grace = float(dotenv(ROOT / ".env.example")["AGENTQ_SHUTDOWN_GRACE_S"])
    env = service_env(compose["services"]["worker"], {})
    assert float(env["AGENTQ_SHUTDOWN_GRACE_S"]) == grace
    stop = _seconds(compose["services"]["worker"]["stop_grace_period"])
    # Time for the jobs to finish, then to hand back what is left, before SIGKILL.
    assert stop >= grace + 10
    if importlib.util.find_spec("src.queue.settings"):
        from src.queue.settings import Settings

        assert Settings.model_fields["shutdown_grace_s"].default == grace


def test_one_image_for_every_app_service(compose):
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    migrate = compose["services"]["migrate"]
    assert api["image"] == worker["image"] == migrate["image"]
    assert api["build"] == worker["build"] == migrate["build"] == "."
    assert api["environment"] == worker["environment"] == migrate["environment"]
    assert api["init"] is worker["init"] is True


# --- the history database ------------------------------------------------------------


def test_postgres_is_persistent_private_and_health_checked(compose):
    pg = compose["services"]["postgres"]
    image, _, tag = pg["image"].partition("@")[0].rpartition(":")
    assert image == "postgres" and re.fullmatch(r"\d+\.\d+(-[a-z0-9.]+)?", tag), tag
    volume, _, target = pg["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data" and volume in compose["volumes"]
    test = pg["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "pg_isready" and "-h" in test
    assert "ports" not in pg  # reached on the compose network only
    env = service_env(pg, {})
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"], env["POSTGRES_PASSWORD"]) == (
        "agentq", "agentq", "agentq")
    # One password setting for the server and its clients, from .env.
    assert pg["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-agentq}"
    app = service_env(compose["services"]["api"], {"POSTGRES_PASSWORD": "s3cret"})
    assert app["PGPASSWORD"] == "s3cret" and "s3cret" not in app["AGENTQ_DATABASE_URL"]
    assert service_env(pg, {"POSTGRES_PASSWORD": "s3cret"})["POSTGRES_PASSWORD"] == "s3cret"
    assert app["AGENTQ_DATABASE_URL"] == COMPOSE_DATABASE_URL
    assert test[test.index("-U") + 1] == env["POSTGRES_USER"]


def test_migrate_runs_once_before_the_api_and_the_workers(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["agentq", "db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"  # one-shot: exits 0 once the schema is current
    assert "ports" not in migrate and "deploy" not in migrate
    for name in ("api", "worker"):
        assert compose["services"][name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
    # `agentq` is the project's console script (the image installs the project).
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["agentq"] == "src.cli:main"


# --- configuration -----------------------------------------------------------------


def test_every_variable_reaches_api_and_workers(compose):
    for name in ("api", "worker"):
        env = compose["services"][name]["environment"]
        assert sorted(env) == sorted([*DEPLOY_VARS, "PGPASSWORD"]), name
        for var, value in env.items():
            # Each value comes from .env (or the shell) with its default after `:-`.
            source = "POSTGRES_PASSWORD" if var == "PGPASSWORD" else var
            assert str(value).startswith(f"${{{source}:-"), (var, value)


def test_env_example_documents_every_variable_with_the_defaults(compose):
    text = (ROOT / ".env.example").read_text()
    example = dotenv(ROOT / ".env.example")
    defaults = service_env(compose["services"]["worker"], {})
    for var in DEPLOY_VARS:
        assert re.search(rf"(?m)^#? ?{var}=", text), f"{var} missing from .env.example"
        if var in example:
            assert example[var] == defaults[var], var
    # REDIS_URL stays commented: make run and compose each have their own default
    # (127.0.0.1 vs the `redis` service), and an active line would break one of them.
    # The same for AGENTQ_DATABASE_URL (SQLite in .data/ vs the `postgres` service).
    assert "REDIS_URL" not in example and "AGENTQ_DATABASE_URL" not in example
    assert defaults["AGENTQ_DATABASE_URL"] == COMPOSE_DATABASE_URL
    assert re.search(r"(?m)^#? ?POSTGRES_PASSWORD=", text), "POSTGRES_PASSWORD missing"
    assert defaults["REDIS_URL"] == "redis://redis:6379/0"
    assert interpolate("${REDIS_URL:-redis://redis:6379/0}", {"REDIS_URL": "rediss://x:1/0"}) == (
        "rediss://x:1/0"
    )


def test_compose_defaults_match_the_settings_defaults(compose):
    settings = pytest.importorskip("src.queue.settings")
    fields = {f.alias: f.get_default(call_default_factory=True)
              for f in settings.Settings.model_fields.values() if f.alias}
    defaults = service_env(compose["services"]["worker"], {})
    for var, value in defaults.items():
        if var not in fields or var in ("REDIS_URL", "AGENTQ_DATABASE_URL"):
            continue
        default = fields[var]
        if isinstance(default, bool):
            assert value in {"0", "false"} and default is False, var
        elif isinstance(default, int | float):
            assert float(value) == default, var
        elif isinstance(default, list):  # a list read from text: empty text is empty
            assert value == "" and default == [], var
        else:
            assert value == default, var


def test_the_settings_accept_exactly_what_compose_passes(compose, tmp_path):
    # Empty strings for unset options, "0" for a flag: the containers must start on them.
    env = service_env(compose["services"]["api"], {})
    code = (
        "from src.api.settings import ApiSettings\n"
        "from src.worker.llm.settings import LLMSettings\n"
        "s = ApiSettings(); llm = LLMSettings.from_env()\n"
        "assert s.redis_url == 'redis://redis:6379/0' and s.redis_cluster is False\n"
        "assert s.api_keys == [] and s.webhook_secret == '' and s.task_module_list == []\n"
        "assert (s.heartbeat_s, s.worker_timeout_s, s.shutdown_grace_s) == (5, 30, 30)\n"
        f"assert s.database_url == {COMPOSE_DATABASE_URL!r} and s.history_days == 90\n"
        "assert llm.offline\n"
    )
    # Run outside the repository (no .env read) with nothing but compose's environment.
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr


# --- the same commands as the tests -------------------------------------------------


def test_compose_commands_are_the_modules_the_tests_start():
    assert importlib.util.find_spec("src.worker") is not None
    assert (ROOT / "src" / "worker" / "__main__.py").exists(), "python -m src.worker"
    module, _, attr = API_COMMAND[1].partition(":")
    from importlib import import_module

    assert hasattr(import_module(module), attr)


# --- base images pinned by digest --------------------------------------------------

# An image for which no trustworthy digest could be found: it stays on its tag, and a
# comment above its `image:` line says so. Remove an entry once the image is pinned.
UNPINNED = {"valkey/valkey:8.1.8", "postgres:17.6-bookworm"}
_PINNED = re.compile(r"(?P<tag>[\w./-]+:[\w.-]+)@sha256:[0-9a-f]{64}")


def _dockerfile_bases(text: str) -> list[str]:
    """The image each `FROM` starts from, with the ARG defaults resolved (earlier stages,
    `FROM <stage> AS ...`, left out)."""
    args = dict(re.findall(r"(?m)^ARG (\w+)=(\S+)", text))
    stages: set[str] = set()
    bases = []
    for ref, stage in re.findall(r"(?m)^FROM (?:--platform=\S+ )?(\S+)(?: AS (\w+))?", text):
        ref = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], ref)
        if ref not in stages:
            bases.append(ref)
        stages.add(stage)
    return bases


def _comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))


def _pinning_problems(refs: list[str], text: str) -> list[str]:
    """What is wrong with how `refs` (image references read from `text`) are pinned."""
    problems = []
    comments = _comments(text)
    for ref in refs:
        m = _PINNED.fullmatch(ref)
        if m is None:
            if ref not in UNPINNED:
                problems.append(f"{ref}: not pinned by digest (name:tag@sha256:<64 hex>)")
            elif not re.search(rf"{re.escape(ref)}\b.*not pinned", comments):
                problems.append(f"{ref}: unpinned without a comment saying why")
        elif not re.search(rf"(?m)^\s*#.*\s{re.escape(m['tag'])}\s", comments + " "):
            problems.append(f"{ref}: no comment names its tag {m['tag']}")
    return problems


def _compose_images(compose) -> list[str]:
    # Services built here (`build:`) run the project's own image, which has no digest.
    return [s["image"] for s in compose["services"].values() if "build" not in s]


def test_every_base_image_is_pinned_by_digest_with_its_tag_in_a_comment(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = _dockerfile_bases(dockerfile)
    assert len(bases) == 3, bases  # web (node), python, runtime (python)
    assert _pinning_problems(bases, dockerfile) == []
    images = _compose_images(compose)
    assert images, "compose has no pulled image"
    assert _pinning_problems(images, COMPOSE.read_text()) == []
    # An exception that no longer applies must go.
    assert UNPINNED <= set(bases) | set(images), UNPINNED - set(bases) - set(images)


def test_the_pinning_check_catches_a_tag_only_image(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    unpinned = re.sub(r"(?m)^(ARG PYTHON_IMAGE=[^@\s]+)@sha256:\w+", r"\1", dockerfile)
    assert unpinned != dockerfile
    assert any("not pinned" in p for p in _pinning_problems(_dockerfile_bases(unpinned),
                                                            unpinned))
    no_comment = "\n".join(
        line for line in dockerfile.splitlines() if not re.match(r"#\s+node:", line)
    )
    assert any("no comment names its tag" in p
               for p in _pinning_problems(_dockerfile_bases(no_comment), no_comment))
    assert _pinning_problems(["redis:7.4"], "") == ["redis:7.4: not pinned by digest "
                                                    "(name:tag@sha256:<64 hex>)"]


def test_node_and_python_bases_are_the_ones_the_stages_expect():
    bases = _dockerfile_bases((ROOT / "Dockerfile").read_text())
    tags = [b.partition("@")[0] for b in bases]
    assert tags == ["node:20-bookworm-slim", "python:3.11-slim-bookworm",
                    "python:3.11-slim-bookworm"]


# --- the API docs work offline -------------------------------------------------------


@pytest.mark.parametrize("web", ["built", "none"])
async def test_redoc_is_off_or_uses_only_local_assets(web, tmp_path):
    """FastAPI's ReDoc page loads its script from a CDN: /redoc must be off (404) or
    reference nothing but the app's own paths."""
    import httpx

    from src.api.app import create_app
    from src.api.settings import ApiSettings

    web_dir = ROOT / "web" / "out" if web == "built" else tmp_path / "none"
    if web == "built" and not (web_dir / "index.html").exists():
        pytest.skip("web/out is not built (make web)")
    app = create_app(ApiSettings(AGENTQ_WEB_DIR=str(web_dir)))
    # ASGITransport runs no lifespan: no Redis needed to route a request.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://agentq.test") as http:
        r = await http.get("/redoc")
    if r.status_code == 404:
        return
    assert r.status_code == 200, r.status_code
    refs = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", r.text)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs


# --- Dockerfile and .dockerignore --------------------------------------------------


def _stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> its instructions (FROM ... AS name)."""
    parts = re.split(r"(?m)^FROM ", dockerfile)[1:]
    return {re.search(r"AS (\w+)", p.splitlines()[0])[1]: p for p in parts}


def test_dockerfile_builds_the_web_export_and_a_slim_non_root_runtime():
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG NODE_IMAGE=node:20-" in text
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    stages = _stages(text)
    assert list(stages) == ["web", "python", "runtime"]
    assert "npm ci" in stages["web"] and "npm run build" in stages["web"]
    assert re.search(r"pip install \.(\s|$)", stages["python"])
    runtime = stages["runtime"]
    assert "COPY --from=web /build/web/out ./web/out" in runtime
    assert "COPY --from=python /opt/venv /opt/venv" in runtime
    # No compilers or package installs in what ships, and not root.
    assert not re.search(r"apt-get|apk add|gcc|build-essential|pip install", runtime)
    user = re.findall(r"(?m)^USER (\S+)", runtime)
    assert user and not user[-1].startswith(("root", "0"))
    cmd = re.search(r"(?m)^CMD (\[.*\])$", runtime)[1]
    import json

    assert json.loads(cmd) == API_COMMAND


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.replace("**/", "")]
        parents = [str(Path(path).parents[i]) for i in range(len(Path(path).parts) - 1)]
        if any(fnmatch.fnmatch(p, c) for c in candidates for p in [path, *parents]):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_context_small_and_free_of_secrets():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in [".git/HEAD", ".venv/bin/python", ".env", ".env.local", "web/node_modules/x/y.js",
                 "web/.next/cache", "web/out/index.html", ".data/appendonly.aof",
                 "src/queue/__pycache__/keys.cpython-311.pyc", "tests/deploy/.tools/x"]:
        assert _ignored(path, patterns), path
    for path in ["pyproject.toml", "README.md", "src/queue/client.py", "src/queue/lua/claim.lua",
                 "web/package.json", "web/package-lock.json", "web/app/page.tsx"]:
        assert not _ignored(path, patterns), path
