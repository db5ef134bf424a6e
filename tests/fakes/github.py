"""A fake GitHub REST API for githubkit to talk to over HTTP (served at `/` and, like GHES, `/api/v3`).

The state holds what GitHub would know: the registered Apps with their public keys, rate-limit
buckets, the clock, and every request seen. What is implemented answers as api.github.com does:
the same authentication rules, status codes, error bodies (`message`, `documentation_url`,
`status`) and headers (`x-github-request-id`, `x-ratelimit-*`, `x-github-api-version-selected`).

Implemented so far:
  GET /app    the App the request's JWT authenticates (RS256, `iss` = App id, GitHub's iat/exp rules)
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tests.fakes import RequestLog, SeenRequest

DOCS_URL = "https://docs.github.com/rest"
DEFAULT_API_VERSION = "2022-11-28"
JWT_MAX_LIFETIME_S = 600  # GitHub refuses an App JWT valid for more than ten minutes
CLOCK_DRIFT_S = 60  # ... and tolerates this much clock difference on `iat`
APP_RATE_LIMIT = 5000
ANONYMOUS_RATE_LIMIT = 60

# GitHub's own wording, so clients and their error handling meet the real messages
REQUIRES_AUTHENTICATION = "Requires authentication"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
    "the assertion expires"
)
JWT_IAT_INVALID = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
)
INTEGRATION_NOT_FOUND = "Integration not found"

DEFAULT_PERMISSIONS = {
    "actions": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}
DEFAULT_EVENTS = ["check_run", "issue_comment", "issues", "pull_request", "workflow_run"]


def generate_private_key() -> str:
    """A new App private key as GitHub's download has it: PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


@dataclass
class App:
    """A registered GitHub App: what GET /app shows, and the public key its JWTs must verify with."""

    id: int
    slug: str
    public_key: str
    name: str = "Autofix (test)"
    description: str = "Reproduces failing checks and proposes proven fixes."
    external_url: str = "https://autofix.example.com"
    owner_login: str = "autofix-org"
    owner_id: int = 7_200_301
    client_id: str = field(default_factory=lambda: "Iv23li" + secrets.token_hex(7))
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    installations_count: int = 1
    created_at: str = "2026-01-12T09:30:00Z"
    updated_at: str = "2026-03-02T16:05:41Z"


@dataclass
class RateLimit:
    limit: int
    used: int = 0
    reset: int = 0


@dataclass
class GitHubState:
    apps: dict[int, App] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    clock: Callable[[], float] = time.time  # GitHub's clock; tests skew it to mimic a drifting host

    def add_app(self, app_id: int, private_key_pem: str, slug: str = "autofix-test") -> App:
        """Register an App whose JWTs are signed with `private_key_pem` (only its public half is kept)."""
        app = App(id=app_id, slug=slug, public_key=public_key_of(private_key_pem))
        self.apps[app_id] = app
        return app

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path)]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- authentication ----------------------------------------------------------------------------


def authenticate_app(state: GitHubState, authorization: str | None) -> App:
    """The App a `Bearer <JWT>` header proves to be, or ApiError as GitHub would answer."""
    scheme, _, token = (authorization or "").partition(" ")
    if not token:
        raise ApiError(401, REQUIRES_AUTHENTICATION)
    if scheme.lower() != "bearer":
        raise ApiError(401, JWT_UNDECODABLE)  # an installation or user token where a JWT is needed
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        app = state.apps.get(int(issuer))
    except (jwt.PyJWTError, TypeError, ValueError):
        raise ApiError(401, JWT_UNDECODABLE) from None
    if app is None:
        raise ApiError(404, INTEGRATION_NOT_FOUND)
    try:
        claims = jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise ApiError(401, JWT_UNDECODABLE) from None  # signed with another key, or not RS256
    check_jwt_times(claims, state.clock())
    return app


def check_jwt_times(claims: dict[str, Any], now: float) -> None:
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or iat > now + CLOCK_DRIFT_S:
        raise ApiError(401, JWT_IAT_INVALID)
    if not isinstance(exp, int | float) or exp <= now:
        raise ApiError(401, JWT_EXPIRED)
    if exp - iat > JWT_MAX_LIFETIME_S or exp > now + JWT_MAX_LIFETIME_S + CLOCK_DRIFT_S:
        raise ApiError(401, JWT_EXP_TOO_FAR)


# -- responses ---------------------------------------------------------------------------------


def _request_id() -> str:
    parts = (secrets.token_hex(2), secrets.token_hex(3), secrets.token_hex(4), secrets.token_hex(4))
    return ":".join(p.upper() for p in parts) + f":{int(time.time()):X}"


def _respond(request: Request, status: int, body: Any, bucket: str | None = None) -> Response:
    state: GitHubState = request.app.state.github
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-github-media-type": "github.v3; format=json",
        "x-github-api-version-selected": request.headers.get("x-github-api-version", DEFAULT_API_VERSION),
        "x-github-request-id": _request_id(),
    }
    if bucket is not None:
        now = int(state.clock())
        limit = APP_RATE_LIMIT if bucket.startswith("app:") else ANONYMOUS_RATE_LIMIT
        rate = state.rate_limits.setdefault(bucket, RateLimit(limit, reset=now + 3600))
        if rate.reset <= now:
            rate.used, rate.reset = 0, now + 3600
        rate.used += 1
        headers |= {
            "x-ratelimit-limit": str(rate.limit),
            "x-ratelimit-remaining": str(max(rate.limit - rate.used, 0)),
            "x-ratelimit-reset": str(rate.reset),
            "x-ratelimit-used": str(rate.used),
            "x-ratelimit-resource": "core",
        }
    return Response(json.dumps(body, indent=2), status_code=status, headers=headers)


def error_body(status: int, message: str) -> dict[str, str]:
    return {"message": message, "documentation_url": DOCS_URL, "status": str(status)}


def _anonymous(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


# -- endpoints ---------------------------------------------------------------------------------


def app_json(app: App, api_url: str) -> dict[str, Any]:
    """The App object as GET /app returns it."""
    owner = f"{api_url}/users/{app.owner_login}"
    return {
        "id": app.id,
        "client_id": app.client_id,
        "slug": app.slug,
        "node_id": f"A_kwDO{app.id:08X}",
        "owner": {
            "login": app.owner_login,
            "id": app.owner_id,
            "node_id": f"O_kgDO{app.owner_id:08X}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{app.owner_id}?v=4",
            "gravatar_id": "",
            "url": owner,
            "html_url": f"https://github.com/{app.owner_login}",
            "followers_url": f"{owner}/followers",
            "following_url": f"{owner}/following{{/other_user}}",
            "gists_url": f"{owner}/gists{{/gist_id}}",
            "starred_url": f"{owner}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{owner}/subscriptions",
            "organizations_url": f"{owner}/orgs",
            "repos_url": f"{owner}/repos",
            "events_url": f"{owner}/events{{/privacy}}",
            "received_events_url": f"{owner}/received_events",
            "type": "Organization",
            "user_view_type": "public",
            "site_admin": False,
        },
        "name": app.name,
        "description": app.description,
        "external_url": app.external_url,
        "html_url": f"https://github.com/apps/{app.slug}",
        "created_at": app.created_at,
        "updated_at": app.updated_at,
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "installations_count": app.installations_count,
    }


async def get_app(request: Request) -> Response:
    app = authenticate_app(request.app.state.github, request.headers.get("authorization"))
    api_url = str(request.base_url).rstrip("/") + request.scope.get("root_path", "")
    return _respond(request, 200, app_json(app, api_url), f"app:{app.id}")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _respond(request, exc.status, error_body(exc.status, exc.message), _anonymous(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    status = 404 if status == 405 else status  # GitHub answers an unknown method like an unknown path
    return _respond(request, status, error_body(status, "Not Found" if status == 404 else "Server Error"))


def build_app(state: GitHubState) -> Starlette:
    routes = [Route("/app", get_app, methods=["GET"])]
    app = Starlette(
        routes=[*routes, Mount("/api/v3", routes=routes)],
        middleware=[Middleware(RequestLog, seen=state.requests)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.github = state
    return app
