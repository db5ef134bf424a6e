"""A fake Anthropic API for the anthropic SDK (2.x, built on httpx2, which respx cannot see).

The state holds the API keys it accepts, the models it lists, and every request seen. What is
implemented answers as api.anthropic.com does: the key in `x-api-key` or `Authorization: Bearer`,
an `anthropic-version` header required, errors as `{"type": "error", "error": {...}, "request_id"}`
with the same id in the `request-id` header.

Implemented so far:
  GET /v1/models     the models, newest first, paginated by `limit`, `after_id`, `before_id`
  POST /v1/messages  validated as the API does (see anthropic_messages), answered from the turns a test
                     scripted with `state.script(...)`; every body is kept in `state.bodies`
"""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes import RequestLog, SeenRequest
from tests.fakes.anthropic_messages import (
    InvalidRequest,
    Script,
    Scripted,
    message_body,
    simulate_usage,
    validate,
)

DEFAULT_PAGE = 20
MAX_PAGE = 1000
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Model:
    id: str
    display_name: str
    created_at: str

    def to_json(self) -> dict[str, str]:
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
        }


DEFAULT_MODELS = (Model("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),)


@dataclass
class AnthropicState:
    api_keys: set[str] = field(default_factory=set)
    models: list[Model] = field(default_factory=lambda: list(DEFAULT_MODELS))
    requests: list[SeenRequest] = field(default_factory=list)
    organization_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    turns: Script = field(default_factory=Script)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every POST /v1/messages body, parsed
    cache: set[str] = field(default_factory=set)  # prefixes written to the simulated prompt cache
    min_cacheable_tokens: int = 0

    def script(self, *turns: Scripted, when: str = "") -> None:
        """Queue turns; with `when`, only for requests whose first message contains that text."""
        self.turns.add(when, turns)

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_request_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "req_011C" + "".join(secrets.choice(alphabet) for _ in range(20))


def authenticate(state: AnthropicState, headers: dict[str, str]) -> str:
    """The API key the request carries, checked as the real API checks it; ApiError otherwise."""
    key = headers.get("x-api-key")
    if key is None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        key = token if scheme.lower() == "bearer" and token else None
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if key not in state.api_keys:
        raise ApiError(401, "invalid x-api-key")
    version = headers.get("anthropic-version")
    if version is None:
        raise ApiError(400, "anthropic-version: header is required")
    if not _VERSION.fullmatch(version):
        raise ApiError(400, f"anthropic-version: invalid version {version!r}")
    return key


def page_of_models(models: list[Model], query: dict[str, str]) -> dict[str, Any]:
    """One page of `models` (newest first) for the `limit`/`after_id`/`before_id` query."""
    raw_limit = query.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise ApiError(400, f"limit: Input should be between 1 and {MAX_PAGE}")
    limit, ids = int(raw_limit), [m.id for m in models]
    start, stop = 0, len(models)
    if "after_id" in query:
        start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else len(ids)
    if "before_id" in query:
        stop = ids.index(query["before_id"]) if query["before_id"] in ids else 0
        start = max(start, stop - limit)
    page = models[start:stop][:limit]
    more = start + len(page) < stop if "before_id" not in query else start > 0
    return {
        "data": [m.to_json() for m in page],
        "has_more": more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


def _respond(request: Request, status: int, body: dict[str, Any], request_id: str) -> Response:
    state: AnthropicState = request.app.state.anthropic
    headers = {
        "content-type": "application/json",
        "request-id": request_id,
        "anthropic-organization-id": state.organization_id,
    }
    return Response(json.dumps(body), status_code=status, headers=headers)


def _error(
    request: Request,
    status: int,
    message: str,
    error_type: str | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    request_id = new_request_id()
    error: dict[str, Any] = {"type": error_type or ERROR_TYPES.get(status, "api_error"), "message": message}
    if details is not None:
        error["details"] = details
    return _respond(request, status, {"type": "error", "error": error, "request_id": request_id}, request_id)


async def list_models(request: Request) -> Response:
    state: AnthropicState = request.app.state.anthropic
    authenticate(state, {k.lower(): v for k, v in request.headers.items()})
    return _respond(request, 200, page_of_models(state.models, dict(request.query_params)), new_request_id())


async def create_message(request: Request) -> Response:
    state: AnthropicState = request.app.state.anthropic
    authenticate(state, {k.lower(): v for k, v in request.headers.items()})
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "There was an error parsing the body of your request") from None
    state.bodies.append(body)
    try:
        validate(body, [m.id for m in state.models])
    except InvalidRequest as e:
        raise ApiError(e.status, e.message) from None
    turn = state.turns.next_for(body)
    if turn is None:
        raise ApiError(500, "fake: no scripted turn left for this request")
    if turn.status >= 400:
        response = _error(request, turn.status, turn.message, turn.error_type, turn.details)
        response.headers.update(turn.headers)
        return response
    usage = turn.usage or simulate_usage(body, state.cache, state.min_cacheable_tokens)
    return _respond(request, 200, message_body(body, turn, usage), new_request_id())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(request, exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    status = 404 if status == 405 else status
    return _error(request, status, "Not found" if status < 500 else "Internal server error")


def build_app(state: AnthropicState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/messages", create_message, methods=["POST"]),
        ],
        middleware=[Middleware(RequestLog, seen=state.requests)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.anthropic = state
    return app
