"""Reading compose.yaml the way compose does: its ${...} values, env files, dclint's report."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
TOOLS = Path(__file__).resolve().parent / ".tools"
DCLINT_VERSION = "3.1.0"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; `$$` is a `$`.
_VAR = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve compose's ${...} forms the way `docker compose` does."""

    def sub(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"] or ""
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else current  # type: ignore[return-value]
        if op in (":?", "?"):
            if unset_or_empty:
                raise KeyError(f"{name}: {arg}")
            return current  # type: ignore[return-value]
        return current or ""

    return _VAR.sub(sub, value)


def load_compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text())  # resolves the `<<: *agentq` merges


def service_env(service: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives a service, with `env` standing in for `.env`."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: interpolate(str(v), env) for k, v in raw.items()}


def dotenv(path: Path) -> dict[str, str]:
    """The active `KEY=value` lines of an env file (comments skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def run_dclint(exe: Path, path: Path) -> tuple[int, list[dict[str, Any]]]:
    out = subprocess.run(
        [str(exe), "--formatter", "json", "--color", "false", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"dclint printed no JSON (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.returncode, [m for f in report for m in f["messages"]]
