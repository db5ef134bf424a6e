"""Sign in with GitHub against the local GitHub's OAuth web flow: a listed user, an org member and an
outsider; a forged state and a bad code; and the fake's own answers, as github.com gives them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from app.github.urls import github_web_root
from app.settings import Settings
from tests.fakes.github.api_oauth import oauth_of
from tests.support import LocalGitHub
from tests.test_dashboard_support import BASE, dash_settings, dashboard_client

CLIENT_ID, CLIENT_SECRET = "Iv23liDashboard01", "oauth-client-secret-0123456789"


def oauth_settings(gh: LocalGitHub, redis_url: str, tmp_path: Path) -> Settings:
    oauth = oauth_of(gh.state)
    oauth.add_client(CLIENT_ID, CLIENT_SECRET)
    oauth.add_member("acme", "bob")
    return dash_settings(
        redis_url, tmp_path, github_api_url=gh.url, github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET, autofix_dashboard_users="alice", autofix_dashboard_org="acme",
        autofix_dashboard_token=None,
    )  # fmt: skip


async def github_round_trip(client: httpx.AsyncClient, gh: LocalGitHub, approver: str) -> httpx.Response:
    """What a browser does: /login/github, GitHub's authorize page, back to the callback."""
    oauth_of(gh.state).approver = approver
    start = await client.get("/login/github?next=/dashboard/jobs")
    assert start.status_code == 302
    authorize = start.headers["location"]
    assert authorize.startswith(f"{gh.url}/login/oauth/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{BASE}/login/github/callback"]
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(authorize)
    assert approved.status_code == 302
    back = approved.headers["location"]
    assert back.startswith(f"{BASE}/login/github/callback?")
    assert parse_qs(urlsplit(back).query)["state"] == query["state"]
    return await client.get(back.removeprefix(BASE))


@pytest.mark.parametrize(("login", "via"), [("alice", "users"), ("bob", "org")])
async def test_a_listed_user_and_an_org_member_get_in(
    gh: LocalGitHub, redis: Redis, redis_url: str, tmp_path: Path, login: str, via: str
) -> None:
    async with dashboard_client(oauth_settings(gh, redis_url, tmp_path), redis_url) as client:
        login_page = await client.get("/login")
        assert 'data-testid="sign-in-github"' in login_page.text
        assert 'data-testid="token-form"' not in login_page.text
        done = await github_round_trip(client, gh, login)
        assert (done.status_code, done.headers["location"]) == (303, "/dashboard/jobs")
        page = await client.get("/dashboard/jobs")
    assert page.status_code == 200
    assert f'<span data-testid="signed-in-as">{login}</span>' in page.text
    asked = gh.state.seen("GET", f"/orgs/acme/members/{login}")
    assert len(asked) == (1 if via == "org" else 0), "a listed user is let in without asking about the org"
    assert all(r.headers["authorization"] == "Bearer gho_[REDACTED]" for r in asked), "with the user's token"


async def test_an_outsider_is_refused_and_gets_no_session(
    gh: LocalGitHub, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    login = "mallory"
    async with dashboard_client(oauth_settings(gh, redis_url, tmp_path), redis_url) as client:
        refused = await github_round_trip(client, gh, login)
        assert refused.status_code == 403
        assert f"not allowed into this dashboard. ({login})" in refused.text
        assert (await client.get("/api/overview")).status_code == 401
    assert gh.state.seen("GET", f"/orgs/acme/members/{login}"), "membership was asked"


async def test_a_forged_state_or_a_bad_code_signs_nobody_in(
    gh: LocalGitHub, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    async with dashboard_client(oauth_settings(gh, redis_url, tmp_path), redis_url) as client:
        forged = await client.get("/login/github/callback?code=abc&state=not-ours")
        assert forged.status_code == 403
        assert "did not come from this site" in forged.text
        start = await client.get("/login/github")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        bad = await client.get(f"/login/github/callback?code=wrong&state={state}")
        assert bad.status_code == 403
        assert "The code passed is incorrect or expired." in bad.text
        assert (await client.get("/api/overview")).status_code == 401
        again = await client.get(f"/login/github/callback?code=wrong&state={state}")
        assert again.status_code == 403, "a state is good for one callback"


def test_the_fake_answers_the_token_exchange_as_github_does(gh: LocalGitHub) -> None:
    oauth = oauth_of(gh.state)
    oauth.add_client(CLIENT_ID, CLIENT_SECRET)
    oauth.approver = "alice"
    redirect = "http://127.0.0.1:9/cb"
    with httpx.Client(base_url=gh.url) as web:
        approved = web.get("/login/oauth/authorize", params={"client_id": CLIENT_ID, "redirect_uri": redirect,
                                                              "state": "s1"})  # fmt: skip
        code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
        form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
        wrong_secret = web.post("/login/oauth/access_token", data=form | {"client_secret": "x"},
                                headers={"accept": "application/json"})  # fmt: skip
        assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (
            200,
            "incorrect_client_credentials",
        )
        plain = web.post("/login/oauth/access_token", data=form)  # no Accept: form-encoded, like GitHub
        assert plain.status_code == 200
        answer = parse_qs(plain.text)
        assert answer["token_type"] == ["bearer"]
        assert answer["access_token"][0].startswith("gho_")
        reused = web.post("/login/oauth/access_token", json=form, headers={"accept": "application/json"})
        assert (reused.status_code, reused.json()["error"]) == (200, "bad_verification_code")
        token = answer["access_token"][0]
        me = web.get("/user", headers={"authorization": f"token {token}"})
        assert (me.status_code, me.json()["login"]) == (200, "alice")
        assert web.get("/user").status_code == 401
        assert (
            web.get("/user", headers={"authorization": "token gho_nope"}).json()["message"]
            == "Bad credentials"
        )
        unknown = web.get("/login/oauth/authorize", params={"client_id": "nope", "redirect_uri": redirect})
        assert unknown.status_code == 404
        oauth.add_member("acme", "bob", public=True)
        asked = web.get("/orgs/acme/members/bob", headers={"authorization": f"token {token}"})
        assert asked.status_code == 302, "a non-member asking is sent to the public list"
        assert asked.headers["location"].endswith("/orgs/acme/public_members/bob")
        assert web.get(asked.headers["location"].removeprefix(gh.url)).status_code == 204
        oauth.deny = True
        denied = web.get("/login/oauth/authorize", params={"client_id": CLIENT_ID, "redirect_uri": redirect,
                                                            "state": "s2"})  # fmt: skip
        assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_the_github_web_root_comes_from_the_api_url(api: str, web: str) -> None:
    assert github_web_root(api) == web
