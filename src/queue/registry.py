"""The task registry: `@task` functions by name, each with its input model and options.

It sits below both the API and the worker: the API and `Client.enqueue` validate
payloads and take a task's defaults from here without importing the worker runtime.
A task module registers its tasks when imported; `load_task_modules` imports the
built-in ones and those named by `AGENTQ_TASK_MODULES` / `--tasks`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidPayload, InvalidSchedule, UnknownTask
from .schedules import Schedule, check_unique

#: Imported by name (the worker's built-in tasks), so this module imports no layer above.
BUILTIN_MODULES = ("src.worker.tasks",)
#: What a job of a type unknown in this process gets (the worker applies the task's own).
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    fn: Callable[..., Any]
    input: type[BaseModel] | None
    timeout_s: float
    max_attempts: int
    is_async: bool
    #: `@task(schedule=...)`: enqueued at its ticks by the workers (src/worker/scheduler.py)
    schedule: Schedule | None = None
    #: the most running jobs of one concurrency key for this task's jobs (None: the setting)
    key_concurrency: int | None = None
    #: most LLM tokens a job may use (its `max_tokens` wins); None: no budget
    max_tokens: int | None = None


class Registry:
    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}

    def register(self, task: TaskDef) -> None:
        existing = self._tasks.get(task.name)
        if existing and existing.fn is not task.fn and (
            existing.fn.__module__, existing.fn.__qualname__
        ) != (task.fn.__module__, task.fn.__qualname__):
            raise ValueError(f"task {task.name!r} is registered twice")
        self._tasks[task.name] = task

    def get(self, name: str) -> TaskDef | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def defaults_for(self, name: str) -> tuple[int, float | None]:
        """`(max_attempts, timeout_s)` of the task; for an unknown type `(3, None)`."""
        task = self._tasks.get(name)
        return (task.max_attempts, task.timeout_s) if task else (DEFAULT_MAX_ATTEMPTS, None)

    def key_limit(self, name: str, default: int) -> int:
        """The limit of running jobs per concurrency key for jobs of `name`."""
        task = self._tasks.get(name)
        return task.key_concurrency if task and task.key_concurrency is not None else default

    def validate(self, name: str, payload: Any) -> None:
        """Check the payload against the task's input model (what the worker will do).

        Raises `UnknownTask`, or `InvalidPayload` naming the bad fields.
        """
        task = self._tasks.get(name)
        if task is None:
            raise UnknownTask(name)
        if task.input is not None:
            try:
                task.input.model_validate(payload)
            except ValidationError as exc:
                raise InvalidPayload(name, exc) from exc

    def schedules(self, extra: Iterable[Schedule] = ()) -> list[Schedule]:
        """The tasks' own schedules, then `extra` (AGENTQ_SCHEDULES), sorted by name.

        Raises `InvalidSchedule` when a name is used twice or a payload does not fit the
        input model of a task registered here (the others are enqueued as they are).
        """
        found = [t.schedule for t in self._tasks.values() if t.schedule is not None]
        found += extra
        check_unique(found)
        for s in found:
            try:
                if s.task in self:
                    self.validate(s.task, s.payload)
            except InvalidPayload as exc:
                raise InvalidSchedule(f"schedule {s.name!r}: {exc}") from None
        return sorted(found, key=lambda s: s.name)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


#: The process's registry: `@task` adds to it.
registry = Registry()


def task(
    name: str, *, input: type[BaseModel] | None = None, timeout_s: float = 600,
    max_attempts: int = 3, schedule: str | None = None, schedule_payload: Any = None,
    schedule_tz: str = "UTC", key_concurrency: int | None = None, max_tokens: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(ctx, data)` as the task `name`. Plain functions run in a thread.

    `schedule`: a cron expression (src/queue/schedules.py) at whose ticks, in the time
    zone `schedule_tz`, the workers enqueue the task with `schedule_payload` (default
    `{}`) on the `default` queue; the schedule is named after the task.
    `key_concurrency` caps the running jobs of one concurrency key (a job's
    `concurrency_key`, by default its tenant) across all workers; 0 means no cap, None
    the `AGENTQ_KEY_CONCURRENCY` setting.
    `max_tokens`: the LLM token budget of each job of the task, unless the job sets one.
    """
    if max_attempts < 1 or timeout_s <= 0 or (key_concurrency or 0) < 0:
        raise ValueError("max_attempts must be >= 1, timeout_s > 0 and key_concurrency >= 0")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    cron = None if schedule is None else Schedule(
        name, name, schedule, {} if schedule_payload is None else schedule_payload,
        timezone=schedule_tz)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        registry.register(TaskDef(name, fn, input, float(timeout_s), int(max_attempts),
                                  inspect.iscoroutinefunction(fn), cron, key_concurrency,
                                  max_tokens))

        return fn

    return decorate


def load_task_modules(modules: Iterable[str] = ()) -> Registry:
    """Import the built-in tasks and the given modules (their `@task`s register themselves)."""
    for module in (*BUILTIN_MODULES, *modules):
        importlib.import_module(module)
    return registry
