"""App-level endpoints (JWT): the App, its installations, installation tokens."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github.auth import authenticate_app, can_see, issue_token
from tests.fakes.github.errors import not_found
from tests.fakes.github.http import authenticated, read_json, respond, state_of, token_bucket
from tests.fakes.github.shapes import iso, render_app, render_installation, render_repo
from tests.fakes.github.state import App, GitHubState, Installation
from tests.fakes.github.webhooks import render_delivery


def _app_of(request: Request) -> App:
    return authenticate_app(state_of(request), request.headers.get("authorization"))


def _installation(state: GitHubState, app: App, installation_id: str) -> Installation:
    inst = state.installations.get(int(installation_id)) if installation_id.isdigit() else None
    if inst is None or inst.app_id != app.id:
        raise not_found()
    return inst


async def get_app(request: Request) -> Response:
    app = _app_of(request)
    return respond(request, 200, render_app(state_of(request).base_url, app), f"app:{app.id}")


async def list_installations(request: Request) -> Response:
    app = _app_of(request)
    state = state_of(request)
    body = [
        render_installation(state.base_url, inst, app)
        for inst in state.installations.values()
        if inst.app_id == app.id
    ]
    return respond(request, 200, body, f"app:{app.id}")


async def get_installation(request: Request) -> Response:
    app = _app_of(request)
    state = state_of(request)
    inst = _installation(state, app, request.path_params["installation_id"])
    return respond(request, 200, render_installation(state.base_url, inst, app), f"app:{app.id}")


async def create_access_token(request: Request) -> Response:
    app = _app_of(request)
    state = state_of(request)
    inst = _installation(state, app, request.path_params["installation_id"])
    body = await read_json(request)
    token = issue_token(state, inst, body)
    selected = token.repositories is not None or inst.repositories is not None
    answer: dict[str, Any] = {
        "token": token.token,
        "expires_at": iso(token.expires_at),
        "permissions": token.permissions,
        "repository_selection": "selected" if selected else "all",
    }
    if token.repositories is not None:
        answer["repositories"] = [
            render_repo(state.base_url, state.repos[name]) for name in token.repositories
        ]
    return respond(request, 201, answer, f"app:{app.id}")


async def get_repo_installation(request: Request) -> Response:
    app = _app_of(request)
    state = state_of(request)
    full = f"{request.path_params['owner']}/{request.path_params['repo']}"
    if full not in state.repos:
        raise not_found()
    for inst in state.installations.values():
        if inst.app_id == app.id and inst.covers(full):
            return respond(request, 200, render_installation(state.base_url, inst, app), f"app:{app.id}")
    raise not_found()


async def list_installation_repos(request: Request) -> Response:
    state = state_of(request)
    token = authenticated(request)
    repos = [r for r in state.repos.values() if can_see(state, token, r)]
    inst = state.installations[token.installation_id]
    body = {
        "total_count": len(repos),
        "repository_selection": "all" if inst.repositories is None else "selected",
        "repositories": [render_repo(state.base_url, r) for r in repos],
    }
    return respond(request, 200, body, token_bucket(token))


ROUTES = [
    Route("/app", get_app, methods=["GET"]),
    Route("/app/installations", list_installations, methods=["GET"]),
    Route("/app/installations/{installation_id}", get_installation, methods=["GET"]),
    Route("/app/installations/{installation_id}/access_tokens", create_access_token, methods=["POST"]),
    Route("/repos/{owner}/{repo}/installation", get_repo_installation, methods=["GET"]),
    Route("/installation/repositories", list_installation_repos, methods=["GET"]),
]


async def list_deliveries(request: Request) -> Response:
    """Newest first, cursor-paginated by delivery id (`cursor` = the last id seen), as GitHub does."""
    app = _app_of(request)
    state = state_of(request)
    per_page = min(int(request.query_params.get("per_page") or 30), 100)
    cursor = request.query_params.get("cursor")
    newest_first = sorted(state.hook_deliveries, key=lambda d: d.id, reverse=True)
    if cursor:
        newest_first = [d for d in newest_first if d.id < int(cursor)]
    page = newest_first[:per_page]
    headers = {}
    if len(newest_first) > per_page:
        url = f"{state.base_url}/app/hook/deliveries?per_page={per_page}&cursor={page[-1].id}"
        headers["link"] = f'<{url}>; rel="next"'
    return respond(request, 200, [render_delivery(d) for d in page], f"app:{app.id}", headers)


async def redeliver(request: Request) -> Response:
    _app_of(request)
    state = state_of(request)
    wanted = request.path_params["delivery_id"]
    original = next((d for d in state.hook_deliveries if str(d.id) == wanted), None)
    if original is None or state.hookshot is None:
        raise not_found()
    state.hookshot.redeliver(original)
    return respond(request, 202, {})


ROUTES += [
    Route("/app/hook/deliveries", list_deliveries, methods=["GET"]),
    Route("/app/hook/deliveries/{delivery_id}/attempts", redeliver, methods=["POST"]),
]
