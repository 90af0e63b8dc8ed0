"""Fuzz: schemathesis against the running API's `/openapi.json`, every check on.

Positive and negative cases for every operation, with API keys set (so `ignored_auth`
means something): no 5xx, no answer outside the schema. The quick bounded run lives in
tests/api; this one is the thorough one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks, positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from tests.api.support import Server, base_env, start_api, stop_process

from .conftest import FULL, report

KEY = "fuzz-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {KEY}"}
EXAMPLES = 150 if FULL else 40      # per operation and mode


@pytest.fixture(scope="module")
def fuzz_api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = base_env(redis_url, f"t{uuid.uuid4().hex[:8]}", AGENTQ_API_KEYS=KEY,
                   AGENTQ_WEBHOOK_SECRET="fuzz-secret")
    server = start_api(tmp_path_factory.mktemp("fuzz"), env)
    yield server
    server.http.close()
    stop_process(server.proc)


def all_checks() -> list:
    load_all_checks()
    return list(CHECKS.get_all())


def fuzz(server: Server, mode: GenerationMode, only: set[str] | None = None,
         skip: set[str] = frozenset(), excluded: tuple = ()) -> tuple[dict, dict]:
    """Run every check on each operation; the failures and the status codes seen, by operation."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    # FastAPI ignores query parameters it does not know, by design: do not send any.
    schema.config.generation.update(allow_extra_parameters=False)
    checks = [c for c in all_checks() if c not in excluded]
    failures: dict[str, str] = {}
    seen: dict[str, dict[int, int]] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        name = f"{op.method.upper()} {op.path}"
        if (only is not None and name not in only) or name in skip:
            continue
        codes = seen.setdefault(name, {})
        try:
            fuzz_operation(op, mode, checks, codes)
        except Unsatisfiable:  # nothing to break: an operation without parameters or body
            codes["no negative case"] = 1
        except (Exception, BaseExceptionGroup) as exc:  # keep going: report every operation
            failures[name] = str(exc)[:3000]
    return failures, seen


def fuzz_operation(op, mode: GenerationMode, checks: list, codes: dict) -> None:
    """Run the cases of one operation, counting the status codes it answers in `codes`."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case) -> None:
        # `?wait=` holds a request until its job ends (no worker runs here): keep it short.
        wait = (case.query or {}).get("wait")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0.2 < wait <= 60:
            case.query["wait"] = 0.2
        # A valid key, unless this case is about broken headers (then 401 is the answer).
        headers = None if case.meta and case.meta.is_negative_at(ParameterLocation.HEADER) else AUTH
        response = case.call_and_validate(headers=headers, checks=checks, timeout=30)
        codes[response.status_code] = codes.get(response.status_code, 0) + 1

    run()


def summarise(label: str, failures: dict, seen: dict, checks: int) -> None:
    total = sum(n for c in seen.values() for s, n in c.items() if isinstance(s, int))
    report(label, operations=len(seen), requests=total, checks=checks,
           failing_operations=sorted(failures),
           five_xx=sum(n for c in seen.values() for s, n in c.items() if isinstance(s, int) and s >= 500))
    for name, codes in sorted(seen.items()):
        report(label, operation=name, statuses=codes)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_api_conforms_to_its_schema(fuzz_api: Server, mode: GenerationMode) -> None:
    # POST /jobs in positive mode: see the next test.
    skip = {"POST /jobs"} if mode == GenerationMode.POSITIVE else set()
    failures, seen = fuzz(fuzz_api, mode, skip=skip)
    if mode == GenerationMode.POSITIVE:
        more, seen_jobs = fuzz(fuzz_api, mode, only={"POST /jobs"}, excluded=(positive_data_acceptance,))
        failures.update(more)
        seen.update(seen_jobs)
    summarise(f"fuzz-{mode}", failures, seen, len(all_checks()))
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.xfail(strict=True, reason=(
    "api: the schema publishes JobCreate.type as any string and payload as any object, so "
    "schema-valid bodies get 422 (unknown task, payload failing the task's model); publish "
    "one variant per registered task (type enum + its input model), or document 422 as expected"))
def test_schema_valid_job_submissions_are_accepted(fuzz_api: Server) -> None:
    failures, seen = fuzz(fuzz_api, GenerationMode.POSITIVE, only={"POST /jobs"})
    summarise("fuzz-positive-acceptance", failures, seen, len(all_checks()))
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
