"""The FastAPI app: routers per resource, one Redis pool owned by the lifespan, the UI at `/`."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

from src.api import errors, ratelimit, streams
from src.api.deps import open_history
from src.api.metrics import ApiMetrics
from src.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from src.api.routes import control, health, history, jobs, queues, webhooks
from src.api.settings import ApiSettings, get_settings
from src.queue import Client, logs, tracing
from src.queue.registry import load_task_modules

ROOT = Path(__file__).resolve().parents[2]
#: Redis connections of the request pool; with the event hub's (HUB_CONNECTIONS, 4) an API
#: process holds 16 at most, however many event streams are open (docs/performance.md).
POOL_CONNECTIONS = 12


class UIMount(Mount):
    """The web build at `/`, mounted after every API route.

    A mount at `/` matches every path, and StaticFiles answers 405 to any method but GET
    and HEAD, so an unknown path (`POST /jobs/{id}/nope`) looked like a known one. For
    other methods this mount matches only the files the build holds (StaticFiles then
    answers 405): an unknown path is 404 whatever the method, and a known API path called
    with another method is 405 from its own route.
    """

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory, html=True)
        super().__init__("/", app=self.files, name="ui")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL and scope["type"] == "http" and scope["method"] not in (
            "GET", "HEAD"
        ):
            if self._holds(self.files.get_path({**scope, **child})):
                return Match.PARTIAL, child
            return Match.NONE, {}
        return match, child

    def _holds(self, path: str) -> bool:
        """Whether the build has a page or an asset at `path`."""
        for candidate in (path, os.path.join(path, "index.html")):
            try:
                _, found = self.files.lookup_path(candidate)
            except (OSError, ValueError):
                return False
            if found is not None and stat.S_ISREG(found.st_mode):
                return True
        return False


def create_app(settings: ApiSettings | None = None, *, events_fanout: bool = True) -> FastAPI:
    """The app. `events_fanout=False` follows jobs with one XREAD per open event stream on
    the request pool (the design before the event hub), for the followers benchmark."""
    settings = settings or get_settings()
    if settings.log_format == "json":  # before uvicorn logs its first line
        logs.use_json_under_uvicorn()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        load_task_modules(settings.task_module_list)
        # OTEL_TRACES_EXPORTER set and the SDK installed: spans, flushed at the end
        stop_tracing = tracing.configure("agentq-api")
        # Short timeouts: a request must fail fast (503) while Redis is unreachable.
        client = Client.from_url(
            settings.redis_url,
            settings.namespace,
            settings=settings,
            socket_connect_timeout=1.0,
            socket_timeout=5.0,
            # Without the hub every open event stream holds a connection of this pool.
            max_connections=POOL_CONNECTIONS if events_fanout else 200,
        )
        app.state.client = client
        # Event streams and `?wait=` follow jobs through the client's hub (one per process).
        app.state.hub = client.hub if events_fanout else None
        app.state.history = await open_history(settings.database_url)
        restore_collector = streams.tune_collector()  # thousands of open streams
        try:
            yield
        finally:
            restore_collector()
            await client.close()
            if stop_tracing is not None:
                stop_tracing()
            if app.state.history is not None:
                app.state.history.close()

    web = Path(settings.web_dir)
    web = web if web.is_absolute() else ROOT / web
    local_docs = (web / "docs-assets" / "swagger-ui-bundle.js").is_file()
    app = FastAPI(
        title="agentq",
        summary="A job queue for long-running AI-agent jobs, on plain Redis lists.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None if local_docs else "/docs",
        # No ReDoc: FastAPI's page loads it from a CDN, which an offline or locked-down
        # deployment cannot reach; /docs (Swagger UI, served locally) covers the API.
        redoc_url=None,
    )
    if local_docs:
        # Swagger UI from the web build (web/out/docs-assets/): /docs works offline.
        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json", title="agentq - API",
                swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/docs-assets/swagger-ui.css",
                swagger_favicon_url="/docs-assets/favicon-32x32.png",
            )

    app.state.metrics = ApiMetrics()
    app.state.settings = settings
    for module in (jobs, control, queues, webhooks, history, health):
        app.include_router(module.router)
    errors.install(app, settings.retry_after_s)

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_payload_bytes)
    # AGENTQ_RATE_LIMIT: 429 on POST /jobs; inside CORS and metrics
    ratelimit.install(app, settings.rate_limit, settings.api_keys)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)

    if (web / "index.html").is_file():
        # Mounted last, so that no API path is shadowed by a page.
        app.router.routes.append(UIMount(web))
    else:

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    return app


app = create_app()
