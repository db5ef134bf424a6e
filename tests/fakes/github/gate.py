"""The outermost layer of the local GitHub: every request is logged (credentials redacted), then
armed faults fire, before any route runs.

`state.requests` keeps no secret: an Authorization header is stored as its scheme and the public
marker of the credential's kind (`Bearer eyJ[REDACTED]` for a JWT, `token ghs_[REDACTED]` for an
installation token, `Basic [REDACTED]` for git), so tests that assert no token reaches any log can
include these logs and still tell a JWT from a token.

A dropped connection must reach the client as a transport error, not as an answer. An ASGI app
cannot close its socket, and uvicorn answers 500 when an app returns without responding; but it
closes the connection, sending nothing, when an app returns a value other than None. The gate
returns `DROPPED` for that (uvicorn's "ASGI callable should return None" about it is filtered out).
"""

from __future__ import annotations

import json
import logging

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes import SeenRequest
from tests.fakes.github.faults import Fault, render_fault_body
from tests.fakes.github.http import APP_RATE_LIMIT, new_request_id
from tests.fakes.github.state import GitHubState

DROPPED = "dropped"  # any value but None makes uvicorn close the connection without a response
REDACTED = "[REDACTED]"
PUBLIC_MARKERS = ("eyJ", "ghs_", "ghu_", "ghp_", "gho_", "github_pat_")  # kinds, not secrets


def redact_authorization(value: str) -> str:
    """`scheme [REDACTED]`, keeping the credential's kind marker (JWTs all begin `eyJ`)."""
    scheme, _, credential = value.strip().partition(" ")
    if not credential:
        return REDACTED
    marker = next((m for m in PUBLIC_MARKERS if credential.startswith(m)), "")
    return f"{scheme} {marker}{REDACTED}"


def seen_request(scope: Scope) -> SeenRequest:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if "authorization" in headers:
        headers["authorization"] = redact_authorization(headers["authorization"])
    return SeenRequest(scope["method"], scope["path"], scope["query_string"].decode(), headers)


def fault_headers(fault: Fault, request_id: str, now: float) -> dict[str, str]:
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-github-media-type": "github.v3; format=json",
        "x-github-request-id": request_id,
    }
    if fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    if fault.kind == "primary_limit":
        headers |= {
            "x-ratelimit-limit": str(APP_RATE_LIMIT),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(now) + fault.reset_in),
            "x-ratelimit-used": str(APP_RATE_LIMIT),
            "x-ratelimit-resource": "core",
        }
    return headers


def installation_of(state: GitHubState, scope: Scope) -> int | None:
    """The installation whose token the request carries, if any (not checked further)."""
    auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    token = state.tokens.get(auth.partition(" ")[2])
    return None if token is None else token.installation_id


def fault_response(state: GitHubState, scope: Scope, fault: Fault) -> Response:
    request_id = new_request_id()
    client = scope["client"][0] if scope.get("client") else "127.0.0.1"
    body = render_fault_body(fault, request_id, installation_of(state, scope), client)
    headers = fault_headers(fault, request_id, state.clock())
    return Response(json.dumps(body, indent=2), fault.status, headers)


class _ExpectedDrops(logging.Filter):
    """Hides uvicorn's complaint about the value a dropped request returns (that is the point)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"returned '{DROPPED}'" not in record.getMessage()


def quiet_expected_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedDrops) for f in logger.filters):
        logger.addFilter(_ExpectedDrops())


class FaultGate:
    """ASGI app logging each request to `state.requests` and applying `state.faults` in front of `app`."""

    def __init__(self, app: ASGIApp, state: GitHubState) -> None:
        self.app, self.state = app, state
        quiet_expected_drops()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = None
        if scope["type"] == "http":
            self.state.requests.append(seen_request(scope))
            fault = self.state.faults.take(scope["method"], scope["path"])
        if fault is None or fault.kind == "latency":
            if fault is not None:
                await anyio.sleep(fault.seconds)
            await self.app(scope, receive, send)
            return None
        if fault.kind == "drop":
            return DROPPED  # type: ignore[return-value]
        await fault_response(self.state, scope, fault)(scope, receive, send)
        return None
