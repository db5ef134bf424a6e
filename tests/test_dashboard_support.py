"""Shared helpers of the dashboard tests (no tests here): settings with sign-in configured, the web
app in-process with its lifespan, token sign-in, a forged session, seeded job records."""

from __future__ import annotations

import json
import re
from base64 import b64encode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
from redis.asyncio import Redis

from app.dashboard import SESSION_COOKIE
from app.job_records import JobRecord, JobStore
from app.settings import Settings
from app.web import build_app
from tests.support import app_client, make_settings

TOKEN = "dashboard-token-0123456789abcdef"
SESSION_SECRET = "session-secret-0123456789abcdef0123456789"
BASE = "http://autofix.test"


def dash_settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "autofix_dashboard_token": TOKEN,
        "autofix_session_secret": SESSION_SECRET,
        "autofix_data_dir": tmp_path / "data",
    }
    return make_settings(**(values | overrides))


@asynccontextmanager
async def dashboard_client(settings: Settings, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The whole web app in-process (lifespan run), like tests/conftest.py's `client`."""
    async with app_client(build_app(settings, redis_url), BASE) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> str:
    """Sign in with the dashboard token; returns the session's CSRF token."""
    login = await client.get("/login")
    answer = await client.post("/login/token", data={"token": token, "csrf": csrf_of(login.text)})
    assert answer.status_code == 303, answer.text
    page = await client.get("/dashboard")
    assert page.status_code == 200
    return csrf_of(page.text)


def forge_session(data: dict[str, Any], secret: str = SESSION_SECRET) -> str:
    """A session cookie as the app signs them: what a browser holds after signing in."""
    payload = b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


def with_session(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    client.cookies.set(SESSION_COOKIE, forge_session(data))


async def seed_record(
    redis: Redis,
    job_id: str,
    *,
    repo: str = "octo/app",
    repo_id: int = 77,
    kind: str = "fix_check_run",
    outcome: str | None = None,
    gate: str | None = None,
    running: bool = False,
    request: dict[str, Any] | None = None,
) -> JobRecord:
    """A job record written the way the worker writes it (phases through JobStore)."""
    store = JobStore(redis)
    req = {"repo": repo, "repo_id": repo_id, "installation_id": 5} | (request or {})
    record = await store.start(job_id, kind, repo, req)
    async with store.phase(record, "evidence") as p:
        p.outcome = "test_failure"
    if gate is not None:
        async with store.phase(record, "gate") as p:
            p.outcome = gate
    if not running:
        await store.finish(record, outcome or "pr_opened", f"finished as {outcome}")
    return record
