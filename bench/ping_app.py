"""The HTTP ceiling: a FastAPI app whose one endpoint only PINGs Redis.

    REDIS_URL=... .venv/bin/uvicorn bench.ping_app:app --no-access-log

`POST /jobs` is compared with this: the same framework, server and Redis client,
doing the least a request that touches Redis can do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aredis
from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = aredis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        yield
    finally:
        await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping(request: Request) -> dict[str, bool]:
    """PING Redis and answer."""
    return {"ok": bool(await request.app.state.redis.ping())}
