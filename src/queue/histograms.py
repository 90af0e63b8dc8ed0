"""Run-time and queue-wait histograms per task type, and failures by error type, in Redis.

The API serves `/metrics` but never sees a job run, so the worker counts each attempt
where it records it: `finish` and `retry` add a few `HINCRBY`s to `{ns}:metrics` in the
same script, only when the write is accepted. `observations()` spells the fields, and
`read()` turns the hash back into histograms at scrape time. Fields:

    run:<le>:<type>          attempts whose run time fell in the bucket ending at <le>
    run_ms:<type>            the sum of those run times, in milliseconds
    wait:<le>:<type>         the same for the queue wait (enqueue, or the retry's
    wait_ms:<type>           scheduling, to the start of the attempt)
    fail:<error>:<type>      attempts that failed, by error type (exception, timeout, ...)
    llm_<kind>:<labels>      LLM usage of attempts (`llm_observations`): kind is prompt or
                             completion (tokens), calls, or cost_nusd (cost in billionths of
                             a US dollar, to stay an integer); labels is the JSON array
                             [type, tenant, model] (a model name may hold any character)

Buckets are not cumulative in Redis (one `HINCRBY` an observation); `read()` adds them
up. The bucket bounds travel in the field names, so a change of bounds never misreads
older counts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

#: seconds; agent jobs run from a fraction of a second to an hour
RUN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
               3600.0)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                300.0, 900.0, 3600.0)


def _le(bounds: tuple[float, ...], seconds: float) -> str:
    for bound in bounds:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


def observations(type: str, run_s: float, wait_s: float,
                 error_type: str | None = None) -> list[str | int]:
    """The `HINCRBY` field/increment pairs (flat) for one finished attempt."""
    run_s, wait_s = max(0.0, run_s), max(0.0, wait_s)
    out: list[str | int] = [
        f"run:{_le(RUN_BUCKETS, run_s)}:{type}", 1, f"run_ms:{type}", round(run_s * 1000),
        f"wait:{_le(WAIT_BUCKETS, wait_s)}:{type}", 1, f"wait_ms:{type}", round(wait_s * 1000),
    ]
    if error_type:
        out += [f"fail:{error_type}:{type}", 1]
    return out


#: the `llm_<kind>` fields, in the order `Observed.llm` holds them
LLM_KINDS = ("prompt", "completion", "calls", "cost_nusd")


#: LLM use is also counted in buckets of this many seconds, kept two hours (`recent`)
RECENT_BUCKET_S = 300


def llm_observations(type: str, tenant: str, model: str, prompt_tokens: int,
                     completion_tokens: int, calls: int, cost_nusd: int) -> list[str | int]:
    """The `HINCRBY` field/increment pairs (flat) for one attempt's use of one model: into
    the metrics hash, and (`recent:<bucket>:` fields) into the current five minutes'."""
    labels = orjson.dumps([type, tenant, model]).decode()
    recent = orjson.dumps([tenant, model]).decode()
    bucket = int(time.time()) // RECENT_BUCKET_S
    out: list[str | int] = []
    for kind, n in zip(LLM_KINDS, (prompt_tokens, completion_tokens, calls, cost_nusd),
                       strict=True):
        if n:
            out += [f"llm_{kind}:{labels}", int(n), f"recent:{bucket}:{kind}:{recent}", int(n)]
    return out


def ended_observation(type: str, tenant: str, status: str) -> list[str | int]:
    """The `HINCRBY` pair that counts a job of `type` and `tenant` ending in `status`."""
    return [f"ended:{status}:{orjson.dumps([type, tenant]).decode()}", 1]


def recent_buckets(minutes: int, now: float | None = None) -> list[int]:
    """The buckets of the last `minutes` (the current one included)."""
    last = int(time.time() if now is None else now) // RECENT_BUCKET_S
    count = max(1, -(-minutes * 60 // RECENT_BUCKET_S))
    return list(range(last - count + 1, last + 1))


def read_recent(hashes: list[dict[Any, Any]]) -> list[dict[str, Any]]:
    """LLM use per tenant and model summed over bucket hashes, most tokens first."""
    sums: dict[tuple[str, str], list[int]] = {}
    for fields in hashes:
        for name, value in fields.items():
            kind, _, labels = _text(name).partition(":")
            if kind not in LLM_KINDS:
                continue
            tenant, model = orjson.loads(labels)
            counts = sums.setdefault((tenant, model), [0] * len(LLM_KINDS))
            counts[LLM_KINDS.index(kind)] += int(value)
    ranked = sorted(sums.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
    return [{"tenant": t, "model": m, "prompt_tokens": c[0], "completion_tokens": c[1],
             "calls": c[2], "cost": c[3] / 1e9 if c[3] else None} for (t, m), c in ranked]


@dataclass
class Histogram:
    """One histogram: cumulative `(le, count)` buckets ending with `+Inf`, and the sum."""

    buckets: list[tuple[float, int]] = field(default_factory=list)
    sum_s: float = 0.0

    @property
    def count(self) -> int:
        return self.buckets[-1][1] if self.buckets else 0


@dataclass
class Observed:
    """What `{ns}:metrics` holds: histograms by kind (`run`, `wait`) and type, failures."""

    histograms: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, error) -> n
    #: (type, tenant, model) -> counts in the order of LLM_KINDS
    llm: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    #: (type, tenant, status) -> jobs that ended so
    ended: dict[tuple[str, str, str], int] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read(fields: dict[Any, Any]) -> Observed:
    """The hash `{ns}:metrics` (field -> count, as HGETALL returns it) as histograms."""
    counts: dict[tuple[str, str], dict[float, int]] = {}
    sums: dict[tuple[str, str], int] = {}
    out = Observed()
    for raw_name, raw_value in fields.items():
        name, value = _text(raw_name), int(raw_value)
        kind, _, rest = name.partition(":")
        if kind.startswith("llm_"):
            _read_llm(out, kind[4:], rest, value)
            continue
        if kind in ("run_ms", "wait_ms"):
            sums[(kind[:-3], rest)] = value
            continue
        head, _, type = rest.partition(":")
        if kind == "ended":
            _read_ended(out, head, type, value)
        elif kind == "fail":
            out.failures[(type, head)] = value
        elif kind in ("run", "wait"):
            try:
                le = math.inf if head == "+Inf" else float(head)
            except ValueError:
                continue
            per = counts.setdefault((kind, type), {})
            per[le] = per.get(le, 0) + value
    for key, per in counts.items():
        per.setdefault(math.inf, 0)
        total, buckets = 0, []
        for le in sorted(per):
            total += per[le]
            buckets.append((le, total))
        out.histograms[key] = Histogram(buckets, sums.get(key, 0) / 1000)
    return out


def _read_ended(out: Observed, status: str, labels: str, value: int) -> None:
    try:
        type, tenant = (str(x) for x in orjson.loads(labels))
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return
    out.ended[(type, tenant, status)] = out.ended.get((type, tenant, status), 0) + value


def _read_llm(out: Observed, kind: str, labels: str, value: int) -> None:
    if kind not in LLM_KINDS:
        return
    try:
        type, tenant, model = (str(x) for x in orjson.loads(labels))
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return
    counts = out.llm.setdefault((type, tenant, model), [0] * len(LLM_KINDS))
    counts[LLM_KINDS.index(kind)] += value
