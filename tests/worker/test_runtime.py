"""The worker runtime in-process: what happens when one of its own loops dies."""

import asyncio

from src.worker import Worker, registry


async def test_a_dead_claim_loop_stops_the_worker_and_marks_it_crashed(settings, monkeypatch):
    worker = Worker(settings, registry, concurrency=2)

    async def broken() -> None:
        raise RuntimeError("bug in the claim loop")

    monkeypatch.setattr(worker.claimer, "loop", broken)
    await asyncio.wait_for(worker.run(), 10)
    assert worker.crashed


async def test_a_worker_refuses_to_start_without_tasks(settings):
    from src.queue.registry import Registry

    try:
        Worker(settings, Registry())
    except ValueError as exc:
        assert "no tasks" in str(exc)
    else:
        raise AssertionError("a worker with an empty registry started")
