"""Alembic migrations of the history database (applied by `src.history.store.upgrade`)."""
