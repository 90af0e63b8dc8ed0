"""The queue core: keys, envelope and record, Lua scripts and their typed operations,
the task registry, and the client."""

from .client import Client, Enqueued
from .errors import (
    InvalidPayload,
    JobConflict,
    JobNotFound,
    QueueError,
    RedisUnavailable,
    StaleAttempt,
    UnknownTask,
)
from .keys import Keys
from .models import TERMINAL, Envelope, Status, new_id
from .registry import Registry, TaskDef, registry, task
from .settings import Settings, get_settings
from .sync import SyncClient

__all__ = [
    "TERMINAL", "Client", "Enqueued", "Envelope", "InvalidPayload", "JobConflict",
    "JobNotFound", "Keys", "QueueError", "RedisUnavailable", "Registry", "Settings",
    "StaleAttempt", "Status", "SyncClient", "TaskDef", "UnknownTask", "get_settings", "new_id",
    "registry", "task",
]
