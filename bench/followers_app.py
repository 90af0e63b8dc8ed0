"""The API as it followed jobs before the event hub: one blocking XREAD per open event
stream, on the request pool. For the followers benchmark only:

    uvicorn --factory bench.followers_app:per_stream
"""

from __future__ import annotations

from fastapi import FastAPI

from src.api.app import create_app


def per_stream() -> FastAPI:
    return create_app(events_fanout=False)

