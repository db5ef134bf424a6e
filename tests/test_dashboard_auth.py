"""Who gets in: every dashboard and API route refuses an anonymous session and a signed-in one that is
not (or no longer) allowed; every POST needs the session's CSRF token; token sign-in; the cookie."""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app import dashboard
from app.dashboard import auth
from app.dashboard.secret import FILE_NAME, load_session_secret
from app.dashboard.views_auth import safe_next
from app.repo_state import GLOBAL_PAUSE
from tests.test_dashboard_support import (
    TOKEN,
    csrf_of,
    dash_settings,
    dashboard_client,
    seed_record,
    sign_in,
    with_session,
)

PARAMS = {"{job_id}": "check:1", "{repo_id:int}": "77"}


def concrete(path: str) -> str:
    for k, v in PARAMS.items():
        path = path.replace(k, v)
    return path


ALL_ROUTES = [(concrete(p), m, g) for p, m, g, _ in dashboard.ROUTES]
NOT_ALLOWED_SESSIONS = [
    {"login": "mallory", "via": "users", "csrf": "c"},  # was listed once, is not now
    {"login": "mallory", "via": "org", "org": "other-org", "csrf": "c"},  # another org's member
    {"login": "token", "via": "token", "mark": "stale", "csrf": "c"},  # the token was rotated
    {"login": "mallory", "via": "admin", "csrf": "c"},  # no such way in
]


@pytest.mark.parametrize(("path", "method", "guard"), ALL_ROUTES)
async def test_every_route_refuses_an_anonymous_session(
    redis: Redis, redis_url: str, tmp_path: Path, path: str, method: str, guard: str
) -> None:
    await seed_record(redis, "check:1")
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        answer = await client.request(method, path, data={"csrf": "x"} if method == "POST" else None)
    if guard == "api":
        assert (answer.status_code, answer.json()) == (401, {"error": "sign in first"})
    else:
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=%2F")
    assert not await redis.exists(GLOBAL_PAUSE, "autofix:repo:77:paused")


@pytest.mark.parametrize("session", NOT_ALLOWED_SESSIONS)
@pytest.mark.parametrize(("path", "method", "guard"), ALL_ROUTES)
async def test_every_route_refuses_a_session_that_is_not_allowed(
    redis: Redis, redis_url: str, tmp_path: Path, path: str, method: str, guard: str, session: dict[str, str]
) -> None:
    await seed_record(redis, "check:1")
    settings = dash_settings(
        redis_url, tmp_path, autofix_dashboard_users="alice", autofix_dashboard_org="acme"
    )
    async with dashboard_client(settings, redis_url) as client:
        with_session(client, session)
        answer = await client.request(method, path, data={"csrf": "c"} if method == "POST" else None)
    assert answer.status_code == 403
    assert "mallory" not in answer.text
    assert not await redis.exists(GLOBAL_PAUSE, "autofix:repo:77:paused")


@pytest.mark.parametrize("path", [concrete(p) for p, m, _, _ in dashboard.ROUTES if m == "GET"])
async def test_an_allowed_session_gets_every_page(
    redis: Redis, redis_url: str, tmp_path: Path, path: str
) -> None:
    await seed_record(redis, "check:1", outcome="pr_opened")
    settings = dash_settings(redis_url, tmp_path, autofix_dashboard_users="alice")
    async with dashboard_client(settings, redis_url) as client:
        with_session(client, {"login": "Alice", "via": "users", "csrf": "c"})
        if path.endswith("/events"):
            return  # a stream: tests/test_dashboard_jobs.py reads it over real HTTP
        answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"


POSTS = [concrete(p) for p, m, _, _ in dashboard.ROUTES if m == "POST"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("csrf", [None, "", "wrong"])
async def test_every_form_post_needs_the_sessions_csrf_token(
    redis: Redis, redis_url: str, tmp_path: Path, path: str, csrf: str | None
) -> None:
    await seed_record(redis, "check:1")
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        good = await sign_in(client)
        if path == "/dashboard/resume" or path.endswith("/resume"):
            await client.post(path.replace("resume", "pause"), data={"csrf": good})
        before = sorted(await redis.keys("autofix:*paused*"))
        refused = await client.post(path, data={} if csrf is None else {"csrf": csrf})
        assert refused.status_code == 403
        assert sorted(await redis.keys("autofix:*paused*")) == before, "nothing changed"
        accepted = await client.post(path, data={"csrf": good})
        assert accepted.status_code == 303
        assert sorted(await redis.keys("autofix:*paused*")) != before, "the same form with its token works"


async def test_login_and_logout_posts_need_the_csrf_token(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await client.get("/login")
        no_csrf = await client.post("/login/token", data={"token": TOKEN})
        assert no_csrf.status_code == 403
        assert (await client.get("/api/overview")).status_code == 401
        csrf = await sign_in(client)
        assert (await client.post("/logout", data={"csrf": "wrong"})).status_code == 403
        assert (await client.get("/api/overview")).status_code == 200, "still signed in"
        out = await client.post("/logout", data={"csrf": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert (await client.get("/api/overview")).status_code == 401


async def test_token_sign_in_compares_in_constant_time_and_refuses_a_wrong_token(
    redis: Redis, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        login = await client.get("/login")
        assert 'data-testid="token-form"' in login.text
        assert 'data-testid="sign-in-github"' not in login.text
        wrong = await client.post("/login/token", data={"token": TOKEN + "x", "csrf": csrf_of(login.text)})
        assert wrong.status_code == 403
        assert "not the dashboard" in wrong.text
        assert (TOKEN.encode() + b"x", TOKEN.encode()) in compared
        assert (await client.get("/api/overview")).status_code == 401
        login = await client.get("/login?next=/dashboard/audit")
        right = await client.post(
            "/login/token", data={"token": TOKEN, "csrf": csrf_of(login.text), "next": "/dashboard/audit"}
        )
        assert (right.status_code, right.headers["location"]) == (303, "/dashboard/audit")
        assert (await client.get("/api/overview")).status_code == 200


async def test_a_rotated_token_signs_out_its_sessions(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await sign_in(client)
        cookies = dict(client.cookies)
    rotated = dash_settings(redis_url, tmp_path, autofix_dashboard_token="another-token-0123456789")
    async with dashboard_client(rotated, redis_url) as client:
        client.cookies.update(cookies)
        assert (await client.get("/api/overview")).status_code == 403


async def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    for public, secure in ((None, False), ("https://autofix.example.com", True)):
        settings = dash_settings(redis_url, tmp_path, autofix_public_url=public)
        async with dashboard_client(settings, redis_url) as client:
            answer = await client.get("/login")
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith(dashboard.SESSION_COOKIE + "=")
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert ("secure" in cookie) is secure


def test_the_session_secret_is_generated_once_with_mode_0600(redis_url: str, tmp_path: Path) -> None:
    settings = dash_settings(redis_url, tmp_path, autofix_session_secret=None)
    first = load_session_secret(settings)
    path = tmp_path / "data" / FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_session_secret(settings) == first
    assert len(first) >= 32
    assert [p.name for p in path.parent.iterdir()] == [FILE_NAME], "no temporary file left behind"
    given = dash_settings(redis_url, tmp_path, autofix_session_secret="s" * 40)
    assert load_session_secret(given) == "s" * 40


def test_no_sign_in_configured_writes_no_secret_and_says_how(redis_url: str, tmp_path: Path) -> None:
    settings = dash_settings(redis_url, tmp_path, autofix_dashboard_token=None, autofix_session_secret=None)
    dashboard.dashboard_middleware(settings)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/dashboard"),
        ("/dashboard/jobs?repo=a/b", "/dashboard/jobs?repo=a/b"),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
    ],
)
def test_next_is_only_ever_a_path_here(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
