"""The local GitHub as one Starlette app: REST routes at `/` and (like GHES) `/api/v3`, git at `/`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount

from tests.fakes.github import (
    api_actions,
    api_app,
    api_checks,
    api_downloads,
    api_git,
    api_issues,
    api_manifest,
    api_oauth,
    api_pulls,
    api_repos,
    api_reviews,
    forks,
    smart_http,
)
from tests.fakes.github.errors import ApiError, error_body
from tests.fakes.github.gate import FaultGate
from tests.fakes.github.http import anonymous_bucket, respond
from tests.fakes.github.state import GitHubState


def api_routes() -> list[BaseRoute]:
    return [
        *api_app.ROUTES,
        *api_repos.ROUTES,
        *api_git.ROUTES,
        *api_issues.ROUTES,
        *api_pulls.ROUTES,
        *api_reviews.ROUTES,
        *api_checks.ROUTES,
        *api_actions.ROUTES,
        *api_downloads.ROUTES,
        *forks.ROUTES,
        *api_manifest.ROUTES,
        *api_oauth.ROUTES,
    ]


def git_routes() -> list[BaseRoute]:
    return [*smart_http.ROUTES, *api_downloads.BLOB_ROUTES]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body = error_body(exc.status, exc.message, exc.errors, exc.documentation_url)
    bucket = anonymous_bucket(request) if exc.status == 401 else None
    return respond(request, exc.status, body, bucket, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    status = 404 if status == 405 else status  # GitHub answers an unknown method like an unknown path
    return respond(request, status, error_body(status, "Not Found" if status == 404 else "Server Error"))


def build_app(state: GitHubState) -> FaultGate:
    routes = api_routes()
    app = Starlette(
        routes=[*git_routes(), *api_manifest.WEB_ROUTES, *routes, Mount("/api/v3", routes=routes)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.github = state
    return FaultGate(app, state)
