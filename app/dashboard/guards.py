"""Every dashboard route goes through one of these: `page` (HTML), `api` (JSON) or `form` (a POST
from a page, with its CSRF token). Anonymous: pages redirect to /login, the API answers 401. Signed in
but not (or no longer) allowed: 403. A missing or wrong CSRF token: 403.

The CSRF token is random per session, sent back in a hidden `csrf` field, compared in constant time;
the session cookie is SameSite=Lax as well, so a cross-site POST carries neither.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.dashboard.auth import Viewer, decide_session
from app.dashboard.context import Dashboard

View = Callable[[Dashboard, Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
MAX_FORM_BYTES = 64_000
NOT_ALLOWED = "Your GitHub account is not allowed into this dashboard."


def ensure_csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def read_form(request: Request) -> dict[str, str]:
    """A posted form (url-encoded, as every dashboard form is); the last value of each field."""
    cached = getattr(request.state, "dashboard_form", None)
    if isinstance(cached, dict):
        return cached
    body = await request.body()
    form: dict[str, str] = {}
    if len(body) <= MAX_FORM_BYTES and "urlencoded" in request.headers.get("content-type", ""):
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    request.state.dashboard_form = form
    return form


async def csrf_ok(request: Request) -> bool:
    form = await read_form(request)
    given, expected = form.get("csrf"), request.session.get("csrf")
    if not isinstance(given, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(dash: Dashboard, view: View) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        viewer = decide_session(dash.settings, dict(request.session))
        if viewer is None:
            return _login_redirect(request)
        if viewer is False:
            return dash.render(request, "refused.html", None, status=403, message=NOT_ALLOWED)
        assert isinstance(viewer, Viewer)
        return await view(dash, request, viewer)

    return endpoint


def api(dash: Dashboard, view: View) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        viewer = decide_session(dash.settings, dict(request.session))
        if viewer is None:
            return JSONResponse({"error": "sign in first"}, status_code=401)
        if viewer is False:
            return JSONResponse({"error": "not allowed"}, status_code=403)
        assert isinstance(viewer, Viewer)
        response = await view(dash, request, viewer)
        response.headers["cache-control"] = "no-store"
        return response

    return endpoint


def form(dash: Dashboard, view: View) -> Endpoint:
    async def checked(d: Dashboard, request: Request, viewer: Viewer) -> Response:
        if not await csrf_ok(request):
            return d.render(
                request, "refused.html", viewer, status=403, message="The form expired; try again."
            )
        return await view(d, request, viewer)

    return page(dash, checked)
