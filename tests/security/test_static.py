"""What the source must never do, read from the source itself (`src/`).

- no pickle (or marshal, shelve), eval, exec or compile: nothing from Redis or HTTP is
  ever turned into code or objects; envelopes and records are JSON;
- no shell: no `os.system`, no `shell=True`;
- secrets (API keys, webhook signatures) compared in constant time, never with `==`/`in`.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from src.api import ratelimit, tenants
from src.queue import signing

SRC = Path(__file__).resolve().parents[2] / "src"
FILES = sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
SECRET_WORDS = ("api_key", "secret", "signature", "password", "token", "digest")


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def test_there_is_source_to_check() -> None:
    assert len(FILES) > 20 and SRC / "api" / "deps.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_pickle_eval_exec_or_shell(path: Path) -> None:
    problems = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            problems += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            problems.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                problems.append(f"{f.id}() at line {node.lineno}")
            if isinstance(f, ast.Attribute) and f.attr == "system" and getattr(f.value, "id", "") == "os":
                problems.append(f"os.system() at line {node.lineno}")
            if isinstance(f, ast.Attribute) and f.attr in ("load", "unsafe_load") and getattr(f.value, "id", "") == "yaml":
                problems.append(f"yaml.{f.attr}() at line {node.lineno}")
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    problems.append(f"shell=... at line {node.lineno}")
    assert not problems, f"{path.relative_to(SRC)}: {problems}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_secrets_are_never_compared_with_equality(path: Path) -> None:
    text = path.read_text()
    problems = []
    for node in ast.walk(_tree(path)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) and o.value in (None, "", b"") for o in operands):
            continue  # "is it set at all" is not a comparison of secrets
        source = (ast.get_source_segment(text, node) or "").lower()
        if any(word in source for word in SECRET_WORDS):
            problems.append(f"line {node.lineno}: {ast.get_source_segment(text, node)}")
    assert not problems, f"{path.relative_to(SRC)}: {problems}"


@pytest.mark.parametrize("fn", [tenants.KeyRing.resolve, signing.verify,
                                ratelimit.RateLimitMiddleware.who],
                         ids=lambda f: f.__qualname__)
def test_secret_checks_use_a_constant_time_compare(fn) -> None:
    source = inspect.getsource(fn)
    assert "compare_digest" in source
    # and they look at every key, not stopping at the first match
    assert "break" not in source and "return True" not in source
