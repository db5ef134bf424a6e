"""Answers with GitHub's headers, rate-limit buckets that count down, and request context helpers."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.github.auth import authenticate_token, can_see
from tests.fakes.github.errors import ApiError, not_found
from tests.fakes.github.faults import PRIMARY_DOCS
from tests.fakes.github.state import GitHubState, Repo, Token

DEFAULT_API_VERSION = "2022-11-28"
APP_RATE_LIMIT = 5000
ANONYMOUS_RATE_LIMIT = 60


@dataclass
class RateLimit:
    limit: int
    used: int = 0
    reset: int = 0


def state_of(request: Request) -> GitHubState:
    state: GitHubState = request.app.state.github
    return state


def new_request_id() -> str:
    parts = (secrets.token_hex(2), secrets.token_hex(3), secrets.token_hex(4), secrets.token_hex(4))
    return ":".join(p.upper() for p in parts) + f":{int(time.time()):X}"


def rate_headers(state: GitHubState, bucket: str) -> dict[str, str]:
    """Count one request against `bucket` and return its `x-ratelimit-*` headers."""
    now = int(state.clock())
    limit = ANONYMOUS_RATE_LIMIT if bucket.startswith("ip:") else state.rate_limit
    with state.lock:
        rate = state.rate_limits.setdefault(bucket, RateLimit(limit, reset=now + state.rate_window))
        if rate.reset <= now:
            rate.used, rate.reset = 0, now + state.rate_window
        rate.used += 1
    return {
        "x-ratelimit-limit": str(rate.limit),
        "x-ratelimit-remaining": str(max(rate.limit - rate.used, 0)),
        "x-ratelimit-reset": str(rate.reset),
        "x-ratelimit-used": str(rate.used),
        "x-ratelimit-resource": "core",
    }


def respond(
    request: Request,
    status: int,
    body: Any,
    bucket: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    state = state_of(request)
    base = {
        "content-type": "application/json; charset=utf-8",
        "x-github-media-type": "github.v3; format=json",
        "x-github-api-version-selected": request.headers.get("x-github-api-version", DEFAULT_API_VERSION),
        "x-github-request-id": new_request_id(),
    }
    if bucket is not None:
        base |= rate_headers(state, bucket)
    content = b"" if body is None else json.dumps(body, indent=2).encode()
    return Response(content, status_code=status, headers=base | (headers or {}))


def anonymous_bucket(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


def token_bucket(token: Token) -> str:
    return f"installation:{token.installation_id}"


@dataclass
class RepoCall:
    """A request on `/repos/{owner}/{repo}/…` by an installation token that may see the repo."""

    state: GitHubState
    token: Token
    repo: Repo
    request: Request

    def ok(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return respond(self.request, status, body, token_bucket(self.token), headers)

    async def body(self) -> dict[str, Any]:
        return await read_json(self.request)


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object in the request body ({} when empty); 400 "Problems parsing JSON" otherwise."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def check_quota(state: GitHubState, token: Token) -> None:
    """403 "API rate limit exceeded" once the installation used up its hour, until the window resets."""
    rate = state.rate_limits.get(token_bucket(token))
    if rate is None or rate.reset <= state.clock() or rate.used < rate.limit:
        return
    headers = {
        "x-ratelimit-limit": str(rate.limit),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(rate.reset),
        "x-ratelimit-used": str(rate.used),
        "x-ratelimit-resource": "core",
    }
    message = f"API rate limit exceeded for installation ID {token.installation_id}."
    raise ApiError(403, message, headers=headers, documentation_url=PRIMARY_DOCS)


def authenticated(request: Request) -> Token:
    """The live installation token of the request, within its rate limit."""
    state = state_of(request)
    token = authenticate_token(state, request.headers.get("authorization"))
    check_quota(state, token)
    return token


def repo_call(request: Request) -> RepoCall:
    """Authenticate the token and find the repo; 404 when it does not exist or the token cannot see it."""
    state = state_of(request)
    token = authenticated(request)
    full = f"{request.path_params['owner']}/{request.path_params['repo']}"
    repo = next((r for name, r in state.repos.items() if name.lower() == full.lower()), None)
    if repo is None or not can_see(state, token, repo):
        raise not_found()
    return RepoCall(state, token, repo, request)


def paginated(call: RepoCall, items: list[Any], key: str | None = None) -> Response:
    """One page of `items` (`per_page`, `page`), with GitHub's `Link` header to the next and last pages.

    With `key`, the page is wrapped as GitHub wraps some lists: `{"total_count": n, key: [...]}`.
    """
    query = call.request.query_params
    per_page = min(int(query.get("per_page") or 30), 100)
    page = max(int(query.get("page") or 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    url = f"{call.state.base_url}{call.request.url.path}"
    others = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.multi_items() if k != "page")

    def link(n: int, rel: str) -> str:
        return f'<{url}?{others}&page={n}>; rel="{rel}"'

    links = ([link(page + 1, "next"), link(last, "last")] if page < last else []) + (
        [link(1, "first"), link(page - 1, "prev")] if page > 1 else []
    )
    chunk = items[(page - 1) * per_page : page * per_page]
    body = chunk if key is None else {"total_count": len(items), key: chunk}
    return call.ok(body, headers={"link": ", ".join(links)} if links else None)
