"""The built web UI is served at `/` without shadowing any API path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.support import start_api, stop_process

PAGES = {
    "index.html": "<html>generate page</html>",
    "history/index.html": "<html>history page</html>",
    "job/index.html": "<html>job page</html>",
    "dashboard/index.html": "<html>dashboard page</html>",
    "404.html": "<html>not found page</html>",
    "_next/static/chunks/app.js": "console.log('app')",
    "docs-assets/swagger-ui-bundle.js": "window.SwaggerUIBundle = function () {}",
    "docs-assets/swagger-ui.css": ".swagger-ui {}",
}


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str], module_dir: Path) -> dict[str, str]:
    web = module_dir / "web-out"
    for name, text in PAGES.items():
        (web / name).parent.mkdir(parents=True, exist_ok=True)
        (web / name).write_text(text)
    return {**api_env, "AGENTQ_WEB_DIR": str(web), "AGENTQ_CORS_ORIGINS": "https://ui.example.com"}


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/", "generate page"),
        ("/history/", "history page"),
        ("/job/?id=01J", "job page"),
        ("/dashboard/", "dashboard page"),
    ],
)
def test_pages(http: httpx.Client, path: str, text: str) -> None:
    r = http.get(path)
    assert r.status_code == 200 and text in r.text
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "target"),
    [("/history", "/history/"), ("/job?id=01J", "/job/?id=01J"), ("/dashboard", "/dashboard/")],
)
def test_pages_without_a_slash_redirect(http: httpx.Client, path: str, target: str) -> None:
    r = http.get(path)
    assert r.status_code in (307, 308)
    assert r.headers["location"].endswith(target)
    assert http.get(path, follow_redirects=True).status_code == 200


def test_assets(http: httpx.Client) -> None:
    r = http.get("/_next/static/chunks/app.js")
    assert r.status_code == 200 and "console.log" in r.text


def test_api_paths_are_not_shadowed(http: httpx.Client) -> None:
    assert http.get("/jobs").headers["content-type"] == "application/json"
    assert http.get("/health").json() == {"status": "ok"}
    assert http.get("/queues").status_code == 200
    assert http.get("/openapi.json").json()["info"]["title"] == "agentq"
    assert http.get("/docs").status_code == 200


def test_docs_use_the_swagger_ui_shipped_with_the_build(http: httpx.Client) -> None:
    """/docs must work offline: its scripts come from the web build, not a CDN."""
    page = http.get("/docs").text
    assert '"/docs-assets/swagger-ui-bundle.js"' in page and "cdn" not in page.lower()
    assert "SwaggerUIBundle" in http.get("/docs-assets/swagger-ui-bundle.js").text


def test_unknown_path_is_404_page(http: httpx.Client) -> None:
    r = http.get("/no/such/page")
    assert r.status_code == 404 and "not found page" in r.text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "path",
    ["/no/such/page", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/nope",
     "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/cancel/extra", "/history/nope", "/_next/nope.js"],
)
def test_unknown_path_is_404_for_every_method(http: httpx.Client, method: str, path: str) -> None:
    r = http.request(method, path)
    assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert r.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/", "/history/", "/history", "/_next/static/chunks/app.js"])
def test_a_page_or_asset_called_with_another_method_is_405(http: httpx.Client, path: str) -> None:
    r = http.post(path)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_a_known_api_path_with_another_method_is_405_from_its_route(http: httpx.Client) -> None:
    r = http.delete("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    r = http.put("/jobs")
    assert r.status_code == 405 and r.headers["allow"] in {"GET", "POST"}  # the first route's


@pytest.fixture(scope="module")
def api_without_ui(module_dir: Path, api_env: dict[str, str]) -> Iterator[httpx.Client]:
    server = start_api(
        module_dir / "api-no-ui", {**api_env, "AGENTQ_WEB_DIR": str(module_dir / "missing")}
    )
    yield server.http
    server.http.close()
    stop_process(server.proc)


def test_without_a_build_the_root_points_to_the_docs(api_without_ui: httpx.Client) -> None:
    r = api_without_ui.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/docs"
    assert api_without_ui.get("/history").status_code == 404
    assert api_without_ui.post("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/nope").status_code == 404


def test_cors_is_open_to_the_configured_origins_only(http: httpx.Client) -> None:
    preflight = {
        "Origin": "https://ui.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }
    r = http.options("/jobs", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = http.get("/jobs", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in r.headers
    r = http.options("/jobs", headers={**preflight, "Origin": "https://evil.example.com"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


def test_cors_is_closed_by_default(api_env: dict[str, str], module_dir: Path) -> None:
    env = {k: v for k, v in api_env.items() if k != "AGENTQ_CORS_ORIGINS"}
    server = start_api(module_dir / "api-no-cors", env)
    try:
        r = server.http.get("/jobs", headers={"Origin": "https://ui.example.com"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        r = server.http.options(
            "/jobs",
            headers={"Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    finally:
        server.http.close()
        stop_process(server.proc)
