"""Local stand-ins for the outside services autofix talks to, served over real HTTP.

Each fake is `build_app(state) -> Starlette` over a plain state object that a test arranges and then
inspects; `tests.support.LiveServer(build_app(state))` serves it on loopback. The fakes answer the way
the real services do (status codes, error bodies, headers), so the real clients run unmodified.

This module holds what the fakes share: the log of the requests they saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class SeenRequest:
    """One request as it reached a fake (header names in lower case)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


class RequestLog:
    """ASGI middleware appending every HTTP request to `seen`, before the app answers it."""

    def __init__(self, app: ASGIApp, seen: list[SeenRequest]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen.append(
                SeenRequest(scope["method"], scope["path"], scope["query_string"].decode(), headers)
            )
        await self.app(scope, receive, send)
