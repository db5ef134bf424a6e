"""What the browser tests share besides fixtures: the served dashboard, its sign-in, screenshots."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page

from app.settings import Settings
from tests.fakes.anthropic import AnthropicState
from tests.patch_support import Served
from tests.support import LocalGitHub

CHROMIUM = Path(os.environ.get("AUTOFIX_TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
MISSING = (
    f"browser tests need Debian's chromium at {CHROMIUM}: "
    "run 'sudo apt-get install chromium' (or deselect them with -m 'not browser')"
)

TOKEN = "dashboard-token-0123456789abcdef"
SESSION_SECRET = "session-secret-0123456789abcdef0123456789"
CLIENT_ID = "Iv1.0123456789abcdef"
CLIENT_SECRET = "oauth-client-secret-0123456789abcdef"
USER = "mona"  # allowed in by AUTOFIX_DASHBOARD_USERS
TIMEOUT_MS = 15_000  # one step of a test: pages are server-rendered on loopback, but CI machines get busy


@dataclass
class Dashboard:
    """The served web app and the doubles behind it."""

    url: str
    settings: Settings
    redis_url: str
    github: LocalGitHub
    model: Served[AnthropicState]


def file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


async def shot(page: Page, step: str, *, name: str | None = None) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/{test}[-{step}].png."""
    test = name or file_name(os.environ.get("PYTEST_CURRENT_TEST", "page").split(" ")[0].split("::")[-1])
    path = SCREENSHOTS / (f"{test}-{file_name(step)}.png" if step else f"{test}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not page.is_closed():
        await page.screenshot(path=path, full_page=True)
    return path


async def sign_in(page: Page, next_path: str = "/dashboard") -> None:
    """Sign in with the dashboard token, through the form, and land on `next_path`."""
    await page.goto(f"/login?next={next_path}")
    await page.locator("[data-testid=token-form] input[name=token]").fill(TOKEN)
    await page.get_by_test_id("sign-in-token").click()
    await page.wait_for_url(f"**{next_path}")


async def mark_page(page: Page) -> None:
    """Leave a mark in the page's JavaScript state: a reload or a navigation would wipe it."""
    await page.evaluate("window.__autofixMark = 'unchanged'")


async def still_marked(page: Page) -> bool:
    return bool(await page.evaluate("window.__autofixMark === 'unchanged'"))
