"""The dashboard: server-rendered pages behind sign-in, on the same Starlette app as the webhook.

`dashboard_routes(settings)` and `dashboard_middleware(settings)` are what app/web.py mounts. The
table `ROUTES` below is the whole surface: each entry names its guard (see guards.py), and the tests
walk it to check that every route refuses an anonymous or unauthorised session.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.dashboard import guards, views, views_audit, views_repos
from app.dashboard.context import Dashboard
from app.dashboard.secret import load_session_secret
from app.dashboard.sse import job_events
from app.dashboard.views_auth import build_auth_views
from app.settings import Settings

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
SESSION_COOKIE = "autofix_session"
SESSION_MAX_AGE_S = 7 * 86_400

# (path, methods, guard, view): guard "page" | "api" | "form"
ROUTES: list[tuple[str, str, str, guards.View]] = [
    ("/dashboard", "GET", "page", views.overview_page),
    ("/dashboard/jobs", "GET", "page", views.jobs_page),
    ("/dashboard/jobs/{job_id}", "GET", "page", views.job_page),
    ("/dashboard/jobs/{job_id}/events", "GET", "page", job_events),
    ("/dashboard/repos", "GET", "page", views_repos.repos_page),
    ("/dashboard/repos/{repo_id:int}", "GET", "page", views_repos.repo_page),
    ("/dashboard/repos/{repo_id:int}/pause", "POST", "form", views_repos.pause_repo),
    ("/dashboard/repos/{repo_id:int}/resume", "POST", "form", views_repos.resume_repo),
    ("/dashboard/pause", "POST", "form", views_repos.pause_all),
    ("/dashboard/resume", "POST", "form", views_repos.resume_all),
    ("/dashboard/audit", "GET", "page", views_audit.audit_page),
    ("/api/overview", "GET", "api", views.overview_api),
    ("/api/jobs", "GET", "api", views.jobs_api),
    ("/api/jobs/{job_id}", "GET", "api", views.job_api),
]
GUARDS: dict[str, Callable[[Dashboard, guards.View], guards.Endpoint]] = {
    "page": guards.page,
    "api": guards.api,
    "form": guards.form,
}


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_TYPES:
        return Response(status_code=404)
    return FileResponse(
        STATIC / name, media_type=STATIC_TYPES[name], headers={"cache-control": "max-age=300"}
    )


async def root(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


def dashboard_routes(settings: Settings, dash: Dashboard | None = None) -> list[BaseRoute]:
    dash = dash or Dashboard(settings)
    a = build_auth_views(dash)
    public: list[BaseRoute] = [
        Route("/", root, methods=["GET"]),
        Route("/login", a["login"], methods=["GET"]),
        Route("/login/token", a["login_token"], methods=["POST"]),
        Route("/login/github", a["login_github"], methods=["GET"]),
        Route("/login/github/callback", a["callback"], methods=["GET"]),
        Route("/logout", a["logout"], methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]
    guarded: list[BaseRoute] = [
        Route(path, GUARDS[guard](dash, view), methods=[method]) for path, method, guard, view in ROUTES
    ]
    return public + guarded


def dashboard_middleware(settings: Settings) -> list[Middleware]:
    """Signed session cookies: HttpOnly, SameSite=Lax, and Secure when the public URL is https."""
    https = (settings.autofix_public_url or "").startswith("https://")
    signs_in = settings.autofix_dashboard_token is not None or bool(settings.github_client_id)
    # nobody can sign in: sessions only carry the login form's CSRF token, so a key per process does
    secret = load_session_secret(settings) if signs_in else secrets.token_urlsafe(48)
    return [
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_S,
            same_site="lax",
            https_only=https,
        )
    ]
