"""The README's task example runs as written: `examples/research.py` on a real worker,
and the README's Python enqueue script as it stands in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from examples import research
from tests.support import ROOT

QUESTION = "Why is the sky blue?"


def readme_python_block(containing: str) -> str:
    """The README's ```python block that contains `containing`."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    matching = [b for b in blocks if containing in b]
    assert len(matching) == 1, f"{len(matching)} README python blocks contain {containing!r}"
    return matching[0]


def test_the_readme_shows_the_task_as_it_is_in_the_file() -> None:
    shown = readme_python_block('@task("research"')
    body = shown[shown.index('@task("research"') :]
    assert body in (ROOT / "examples" / "research.py").read_text()


def test_the_offline_helpers() -> None:
    assert research.make_plan(QUESTION) == ["sky", "blue"]
    assert research.make_plan("How do the tides work?") == ["tides"]
    assert research.make_plan("Why?") == ["why?"]  # nothing but stop words: the question
    notes = ["sky: Sunlight.", "zebra: nothing found offline."]
    assert research.summarise(notes) == "Sunlight."
    assert "nothing" in research.summarise(notes[1:])


async def test_research_runs_on_a_real_worker(client, spawn_worker) -> None:
    spawn_worker(extra_args=["--tasks", "examples.research"])
    job = await client.enqueue("research", {"question": QUESTION})
    rec = await client.wait(job.id, 30)
    assert rec["status"] == "succeeded", rec
    assert rec["attempt"] == 1 and rec["progress"] == 100
    notes = rec["result"]["notes"]
    assert [n.split(":", 1)[0] for n in notes] == ["sky", "blue"]
    assert "Rayleigh" in rec["result"]["answer"] and "red" in rec["result"]["answer"]

    events = [e for _, e in await client.events(job.id)]
    # planning, one step per look-up (2 of them), then the task's own 100
    assert [e["progress"] for e in events if e["type"] == "progress"] == [10, 50, 90, 100]
    assert [e["text"] for e in events if e["type"] == "partial"] == [n + "\n" for n in notes]
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "succeeded"]


def test_the_readme_enqueue_script_runs(spawn_worker, redis_url, namespace) -> None:
    """The README's script, verbatim, in a fresh interpreter: it reads REDIS_URL and
    AGENTQ_NAMESPACE, enqueues `research` and prints the finished record's answer."""
    spawn_worker(extra_args=["--tasks", "examples.research"])
    script = readme_python_block("Client.from_env()")
    assert '"research"' in script
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "REDIS_"))}
    env.update(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, answer = done.stdout.strip().split(" ", 1)
    assert status == "succeeded" and "Rayleigh" in answer, done.stdout
