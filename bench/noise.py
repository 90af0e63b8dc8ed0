"""How busy the machine was while a benchmark ran, so that a table can be judged and
reproduced: load average, the CPU time split from /proc/stat (idle, steal, the rest)
between two snapshots, and a fixed CPU-bound Python loop timed at both ends.

    snap = noise.snapshot()          # at the start (times the calibration loop)
    ...
    text = noise.describe(snap, noise.snapshot())
"""

from __future__ import annotations

import os
import time
from typing import Any

CALIBRATION_N = 2_000_000


def calibrate(repeat: int = 5) -> float:
    """Best of `repeat` timings (ms) of a fixed loop: a slower figure means less CPU for us."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        acc = 0
        for i in range(CALIBRATION_N):
            acc += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def _cpu_times() -> dict[str, int]:
    """The aggregate `cpu` line of /proc/stat, in clock ticks."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return {}
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    return {n: int(v) for n, v in zip(names, fields[1:9], strict=False)}


def snapshot(calibration: bool = True) -> dict[str, Any]:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    snap: dict[str, Any] = {"at": time.time(), "loadavg": load, "cpu": _cpu_times()}
    if calibration:
        snap["calibration_ms"] = calibrate()
    return snap


def between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """CPU shares (of all CPUs) between two snapshots."""
    ca, cb = a.get("cpu", {}), b.get("cpu", {})
    delta = {k: cb.get(k, 0) - ca.get(k, 0) for k in cb}
    total = sum(delta.values()) or 1
    return {
        "seconds": b["at"] - a["at"],
        "idle_pct": 100 * (delta.get("idle", 0) + delta.get("iowait", 0)) / total,
        "steal_pct": 100 * delta.get("steal", 0) / total,
        "busy_pct": 100 * (total - delta.get("idle", 0) - delta.get("iowait", 0)
                           - delta.get("steal", 0)) / total,
    }


def describe(start: dict[str, Any], end: dict[str, Any]) -> str:
    """One markdown paragraph for a results file."""
    d = between(start, end)
    la = start.get("loadavg") or [float("nan")] * 3
    lb = end.get("loadavg") or [float("nan")] * 3
    cal = ""
    if "calibration_ms" in start and "calibration_ms" in end:
        ratio = end["calibration_ms"] / start["calibration_ms"]
        cal = (f" Calibration loop ({CALIBRATION_N:,} iterations of Python, best of 5): "
               f"{start['calibration_ms']:.0f} ms at the start, {end['calibration_ms']:.0f} ms "
               f"at the end ({ratio:.2f}×).")
    return (f"Machine noise ({os.cpu_count()} CPUs, shared): load average (1/5/15 min) "
            f"{la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f} at the start, {lb[0]:.2f}/{lb[1]:.2f}/"
            f"{lb[2]:.2f} at the end; over the {d['seconds'] / 60:.1f} min between, all CPUs "
            f"were {d['busy_pct']:.0f} % busy (this benchmark and anything else), "
            f"{d['idle_pct']:.0f} % idle, {d['steal_pct']:.1f} % stolen by the hypervisor."
            + cal)
