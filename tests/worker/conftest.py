import pytest

from . import sample_tasks  # noqa: F401  (registers their defaults here too, as the API does)


@pytest.fixture
def worker(spawn_worker):
    """A worker process that also loads the sample tasks."""
    def start(**opts):
        opts.setdefault("extra_args", ["--tasks", "tests.worker.sample_tasks"])
        return spawn_worker(**opts)
    return start
