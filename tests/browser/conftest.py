"""Browser tests: Debian's chromium, driven by Playwright, against the real web app.

The app is `app.web.build_app` served by uvicorn on a loopback port, on a real Redis (this test
process's database), with the local GitHub (OAuth included) and the scripted model server. There is
one of each per test process (pytest-xdist worker) and one browser; every test gets a fresh browser
context (no cookies) and a flushed Redis.

Playwright's async API is used: its sync API marks its own event loop as running in the main thread,
which breaks every asyncio test that runs after it in the same process. The tests and these fixtures
therefore share one event loop per session (`pytestmark` in each module sets `loop_scope`).

Every test leaves a screenshot of each page it had open in test-artifacts/screenshots/ (named after
the test, `-FAILED` when it failed); tests add their own with `shot(page, step)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from pydantic import SecretStr
from redis.asyncio import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web import build_app
from tests.browser.support import (
    CHROMIUM,
    CLIENT_ID,
    CLIENT_SECRET,
    MISSING,
    SCREENSHOTS,
    SESSION_SECRET,
    TIMEOUT_MS,
    TOKEN,
    USER,
    Dashboard,
    file_name,
    shot,
)
from tests.patch_support import KEY, served_anthropic
from tests.support import LiveServer, local_github, make_settings

expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions do
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives chromium; deselect with -m 'not browser'")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so a fixture's teardown knows whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


class _Deferred:
    """An ASGI app set after the server is made: the settings need the server's own URL."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory, app_key: str, redis_url: str) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("dashboard")
    with local_github(root / "github", app_key) as github, served_anthropic() as model:
        shim = _Deferred()
        server = LiveServer(shim)
        settings = make_settings(
            redis_url=redis_url,
            github_private_key=app_key,
            github_api_url=github.url,
            anthropic_base_url=model.url,
            anthropic_api_key=SecretStr(KEY),
            autofix_data_dir=root / "data",
            autofix_dashboard_token=SecretStr(TOKEN),
            autofix_session_secret=SecretStr(SESSION_SECRET),
            github_client_id=CLIENT_ID,
            github_client_secret=SecretStr(CLIENT_SECRET),
            autofix_dashboard_users=USER,
            autofix_public_url=server.url,
        )
        shim.app = build_app(settings, redis_url)
        with server:
            yield Dashboard(server.url, settings, redis_url, github, model)


@pytest_asyncio.fixture(loop_scope="session")
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """This process's Redis database, flushed: the same one the served app uses."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(MISSING, pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium's sandbox needs user namespaces, which root in a container does not get. This
            # browser only ever opens the test server on loopback, so it runs without one; never
            # copy this flag to a browser that opens other pages.
            args=["--no-sandbox"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(
    browser: Browser, dashboard: Dashboard, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    """A fresh context (no cookies) on the dashboard's URL; screenshots of its pages at the end."""
    name = file_name(request.node.name)
    for old in [*SCREENSHOTS.glob(f"{name}.png"), *SCREENSHOTS.glob(f"{name}-*.png")]:
        old.unlink(missing_ok=True)  # a test's screenshots are from its last run only
    ctx = await browser.new_context(base_url=dashboard.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    try:
        yield ctx
    finally:
        reports = request.node.stash.get(_REPORTS, {})
        failed = any(r.failed for r in reports.values())
        for i, page in enumerate(ctx.pages):
            await shot(page, f"{i}" if i else "", name=name + ("-FAILED" if failed else ""))
        await ctx.close()
    if errors:
        pytest.fail("JavaScript errors on the page: " + "; ".join(errors), pytrace=False)


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
