"""Job history that outlives Redis (CONTRACT §4b): SQLite or PostgreSQL, through
SQLAlchemy 2 Core, versioned with Alembic. Redis stays the queue and the live state."""

from .store import History, job_row

__all__ = ["History", "job_row"]
