"""Property-based requests generated from `/openapi.json`: no server errors, and every
answer conforms to the documented schema (status code, content type, body).

Bounded: a fixed number of examples per operation and mode, each request with a timeout.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.support import Server

pytestmark = pytest.mark.usefixtures("worker")

OPERATIONS = [
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/jobs/{job_id}/events"),
    ("POST", "/jobs/{job_id}/cancel"),
    ("POST", "/jobs/{job_id}/retry"),
    ("POST", "/jobs/{job_id}/signals/{name}"),
    ("GET", "/jobs/{job_id}/steps"),
    ("POST", "/jobs/{job_id}/replay"),
    ("GET", "/queues"),
    ("GET", "/workers"),
    ("GET", "/schedules"),
    ("GET", "/usage"),
    ("POST", "/webhooks/{source}"),
    ("GET", "/history/stats"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
]
#: Operations with inputs that can be made invalid (the others take none).
WITH_INPUTS = [op for op in OPERATIONS
               if op[0] == "POST" or "{" in op[1] or op[1] in ("/jobs", "/history/stats")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in WITH_INPUTS
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 30


@pytest.fixture(scope="module")
def api_schema(api: Server) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.schemas.BaseSchema) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g}" for m, p, g in CASES]
)
def test_operation_conforms_to_its_schema(
    api_schema: schemathesis.schemas.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=timedelta(seconds=10),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        if case.query and "wait" in case.query:
            case.query["wait"] = 0  # holding requests open for up to a minute says nothing new
        case.call_and_validate(checks=CHECKS, timeout=10)

    run()
