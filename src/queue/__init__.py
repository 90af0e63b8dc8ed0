"""The queue core: keys, envelope and record, Lua scripts, and the client."""

from .client import Client, Enqueued, SyncClient
from .errors import JobConflict, JobNotFound, QueueError, RedisUnavailable, StaleAttempt
from .keys import Keys
from .models import ACTIVE, TERMINAL, Envelope, JobRecord, Status, new_id
from .settings import Settings, get_settings

__all__ = [
    "ACTIVE", "TERMINAL", "Client", "Enqueued", "Envelope", "JobConflict", "JobNotFound",
    "JobRecord", "Keys", "QueueError", "RedisUnavailable", "Settings", "StaleAttempt",
    "Status", "SyncClient", "get_settings", "new_id",
]
