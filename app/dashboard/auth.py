"""Who may use the dashboard: a token from settings, or GitHub sign-in (OAuth web flow) for the listed
users or the members of one organisation. The decisions are pure; the three GitHub calls are `fetch_`.

A session remembers how it was let in (`via`), and every request checks that again against the
current settings: removing a login from AUTOFIX_DASHBOARD_USERS, changing the org or rotating the
token shuts out sessions that were let in by the old value.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from app.github.urls import github_web_root
from app.settings import Settings

TIMEOUT = httpx.Timeout(10.0)
TOKEN_LOGIN = "token"  # noqa: S105 — the name a token sign-in acts under (audit entries, the page header)


@dataclass(frozen=True)
class Viewer:
    login: str
    via: str  # "token" | "users" | "org"
    csrf: str


def token_matches(settings: Settings, given: str) -> bool:
    """Constant-time comparison with AUTOFIX_DASHBOARD_TOKEN (False when none is set)."""
    expected = settings.autofix_dashboard_token
    if expected is None or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def token_mark(settings: Settings) -> str:
    """What a token session keeps of the token: enough to notice a rotation, useless to an attacker."""
    token = settings.autofix_dashboard_token
    raw = token.get_secret_value() if token is not None else ""
    return hashlib.sha256(b"autofix-dashboard-token:" + raw.encode()).hexdigest()[:20]


def decide_login(settings: Settings, login: str, org_member: bool | None) -> str | None:
    """How a GitHub user is let in ("users" or "org"), or None. `org_member` is None when not asked."""
    if login.lower() in settings.dashboard_users():
        return "users"
    if settings.autofix_dashboard_org and org_member:
        return "org"
    return None


def decide_session(settings: Settings, session: dict[str, Any]) -> Viewer | bool | None:
    """The viewer of a session, None when nobody signed in, False when signed in but no longer allowed."""
    login, via, csrf = session.get("login"), session.get("via"), session.get("csrf")
    if not isinstance(login, str) or not isinstance(csrf, str) or not login:
        return None
    if via == "token":
        ok = settings.autofix_dashboard_token is not None and hmac.compare_digest(
            str(session.get("mark", "")), token_mark(settings)
        )
    elif via == "users":
        ok = login.lower() in settings.dashboard_users()
    elif via == "org":
        org = settings.autofix_dashboard_org
        ok = bool(org) and str(session.get("org", "")).lower() == str(org).lower()
    else:
        ok = False
    return Viewer(login, str(via), csrf) if ok else False


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    query = urlencode({"client_id": settings.github_client_id or "", "redirect_uri": redirect_uri,
                       "state": state, "allow_signup": "false"})  # fmt: skip
    return f"{github_web_root(settings.github_api_url)}/login/oauth/authorize?{query}"


class OAuthError(Exception):
    """GitHub did not let the user in; the message is shown on the sign-in page."""


async def fetch_user_token(
    settings: Settings, code: str, redirect_uri: str, client: httpx.AsyncClient
) -> str:
    secret = settings.github_client_secret
    form = {"client_id": settings.github_client_id or "", "code": code, "redirect_uri": redirect_uri,
            "client_secret": secret.get_secret_value() if secret else ""}  # fmt: skip
    url = f"{github_web_root(settings.github_api_url)}/login/oauth/access_token"
    response = await client.post(url, data=form, headers={"accept": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise OAuthError(f"GitHub refused the sign-in ({error or response.status_code}).")
    return str(body["access_token"])


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "accept": "application/vnd.github+json",
            "x-github-api-version": "2022-11-28", "user-agent": "autofix"}  # fmt: skip


async def fetch_login(settings: Settings, token: str, client: httpx.AsyncClient) -> str:
    response = await client.get(f"{settings.github_api_url.rstrip('/')}/user", headers=_headers(token))
    if response.status_code != 200:
        raise OAuthError(f"GitHub did not say who signed in ({response.status_code}).")
    return str(response.json()["login"])


async def fetch_org_member(settings: Settings, token: str, login: str, client: httpx.AsyncClient) -> bool:
    """`GET /orgs/{org}/members/{login}` with the user's own token: 204 is a member; 302/404 is not."""
    org = settings.autofix_dashboard_org
    url = f"{settings.github_api_url.rstrip('/')}/orgs/{org}/members/{login}"
    response = await client.get(url, headers=_headers(token), follow_redirects=False)
    return response.status_code == 204
