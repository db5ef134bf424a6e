"""Sign-in and sign-out: /login, /login/token, /login/github (+ callback), /logout."""

from __future__ import annotations

import hmac
import secrets

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.dashboard import auth
from app.dashboard.auth import TOKEN_LOGIN, OAuthError
from app.dashboard.context import Dashboard
from app.dashboard.guards import NOT_ALLOWED, Endpoint, csrf_ok, ensure_csrf, read_form

BAD_TOKEN = "That token is not the dashboard's token."  # noqa: S105


def safe_next(value: str | None) -> str:
    """Only a path on this site: never `//evil.example` or `https://…` (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/dashboard"
    return value


def _sign_in(request: Request, login: str, via: str, **extra: str) -> None:
    request.session.clear()
    request.session.update({"login": login, "via": via, "csrf": secrets.token_urlsafe(32), **extra})


def _login_page(dash: Dashboard, request: Request, error: str | None = None, status: int = 200) -> Response:
    ensure_csrf(request)
    return dash.render(
        request, "login.html", None, status=status, error=error,
        github=bool(dash.settings.github_client_id and dash.settings.github_client_secret),
        token=dash.settings.autofix_dashboard_token is not None,
        next=safe_next(request.query_params.get("next")),
    )  # fmt: skip


def redirect_uri(dash: Dashboard, request: Request) -> str:
    base = (dash.settings.autofix_public_url or str(request.base_url)).rstrip("/")
    return f"{base}/login/github/callback"


def build_auth_views(dash: Dashboard) -> dict[str, Endpoint]:
    async def login(request: Request) -> Response:
        return _login_page(dash, request)

    async def login_token(request: Request) -> Response:
        if not await csrf_ok(request):
            return _login_page(dash, request, "The form expired; try again.", 403)
        form = await read_form(request)
        if not auth.token_matches(dash.settings, form.get("token", "")):
            return _login_page(dash, request, BAD_TOKEN, 403)
        _sign_in(request, TOKEN_LOGIN, "token", mark=auth.token_mark(dash.settings))
        return RedirectResponse(safe_next(form.get("next")), status_code=303)

    async def login_github(request: Request) -> Response:
        if not dash.settings.github_client_id:
            return _login_page(dash, request, "GitHub sign-in is not configured.", 404)
        state = secrets.token_urlsafe(24)
        request.session["oauth_state"] = state
        request.session["oauth_next"] = safe_next(request.query_params.get("next"))
        return RedirectResponse(auth.authorize_url(dash.settings, redirect_uri(dash, request), state), 302)

    async def callback(request: Request) -> Response:
        expected = request.session.pop("oauth_state", None)
        state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
        if not isinstance(expected, str) or not state or not hmac.compare_digest(state, expected) or not code:
            return _login_page(dash, request, "The sign-in expired or did not come from this site.", 403)
        try:
            async with httpx.AsyncClient(timeout=auth.TIMEOUT) as client:
                token = await auth.fetch_user_token(dash.settings, code, redirect_uri(dash, request), client)
                login = await auth.fetch_login(dash.settings, token, client)
                member = None
                if (
                    dash.settings.autofix_dashboard_org
                    and login.lower() not in dash.settings.dashboard_users()
                ):
                    member = await auth.fetch_org_member(dash.settings, token, login, client)
        except OAuthError as e:
            return _login_page(dash, request, str(e), 403)
        except httpx.HTTPError as e:
            return _login_page(dash, request, f"GitHub could not be reached ({type(e).__name__}).", 502)
        via = auth.decide_login(dash.settings, login, member)
        if via is None:
            return _login_page(dash, request, f"{NOT_ALLOWED} ({login})", 403)
        next_ = request.session.get("oauth_next")
        _sign_in(request, login, via, org=dash.settings.autofix_dashboard_org or "")
        return RedirectResponse(safe_next(next_ if isinstance(next_, str) else None), status_code=303)

    async def logout(request: Request) -> Response:
        if not await csrf_ok(request):
            return _login_page(dash, request, "The form expired; try again.", 403)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    return {"login": login, "login_token": login_token, "login_github": login_github,
            "callback": callback, "logout": logout}  # fmt: skip
