import pytest


@pytest.fixture
def worker(spawn_worker):
    """A worker process that also loads the sample tasks."""
    def start(**opts):
        opts.setdefault("extra_args", ["--tasks", "tests.worker.sample_tasks"])
        return spawn_worker(**opts)
    return start
