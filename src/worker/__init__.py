"""The worker runtime and the task registry (CONTRACT §7)."""

from .context import JobContext
from .errors import Fatal, Retry, UnknownTask
from .registry import TaskDef, load_task_modules, registry, task
from .runtime import Worker

__all__ = ["Fatal", "JobContext", "Retry", "TaskDef", "UnknownTask", "Worker",
           "load_task_modules", "registry", "task"]
