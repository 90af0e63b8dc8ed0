"""The task registry: `@task` functions by name, each with its input model and options."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from src.queue.client import TASK_DEFAULTS

from .errors import UnknownTask

BUILTIN_MODULES = ("src.worker.tasks",)


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    fn: Callable[..., Any]
    input: type[BaseModel] | None
    timeout_s: float
    max_attempts: int
    is_async: bool


class Registry:
    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}

    def register(self, task: TaskDef) -> None:
        existing = self._tasks.get(task.name)
        if existing and existing.fn is not task.fn and (
            existing.fn.__module__, existing.fn.__qualname__) != (task.fn.__module__, task.fn.__qualname__):
            raise ValueError(f"task {task.name!r} is registered twice")
        self._tasks[task.name] = task
        TASK_DEFAULTS[task.name] = (task.max_attempts, task.timeout_s)

    def get(self, name: str) -> TaskDef | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def validate(self, name: str, payload: Any) -> Any:
        """The payload checked against the task's input model (defaults filled in).

        Raises `UnknownTask`, or pydantic's `ValidationError` naming the bad fields.
        """
        task = self._tasks.get(name)
        if task is None:
            raise UnknownTask(name)
        if task.input is None:
            return payload
        return task.input.model_validate(payload).model_dump(mode="json")

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


registry = Registry()


def task(
    name: str, *, input: type[BaseModel] | None = None, timeout_s: float = 600,
    max_attempts: int = 3,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(ctx, data)` as the task `name`. Plain functions run in a thread."""
    if max_attempts < 1 or timeout_s <= 0:
        raise ValueError("max_attempts must be >= 1 and timeout_s > 0")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        registry.register(TaskDef(name, fn, input, float(timeout_s), int(max_attempts),
                                  inspect.iscoroutinefunction(fn)))
        return fn

    return decorate


def load_task_modules(modules: Iterable[str] = ()) -> Registry:
    """Import the built-in tasks and the given modules (their `@task`s register themselves)."""
    for module in (*BUILTIN_MODULES, *modules):
        importlib.import_module(module)
    return registry
