"""The worker: task code's API (CONTRACT §7) and, by name, the runtime.

`from src.worker import task, JobContext, Retry` is all a task module needs; importing
it does not load the runtime (`Worker` is imported on first use), so the API can import
task modules to validate payloads without the worker's machinery.
"""

from typing import TYPE_CHECKING, Any

from src.queue.registry import TaskDef, load_task_modules, registry, task

from .context import JobContext
from .errors import Fatal, Retry, UnknownTask, WaitTimeout

if TYPE_CHECKING:
    from .runtime import Worker

__all__ = ["Fatal", "JobContext", "Retry", "TaskDef", "UnknownTask", "WaitTimeout", "Worker",
           "load_task_modules", "registry", "task"]


def __getattr__(name: str) -> Any:
    if name == "Worker":
        from .runtime import Worker

        return Worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
