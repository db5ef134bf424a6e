"""A local smee.io: webhook proxy channels over server-sent events, as smee.io's server behaves.

  POST /{channel}   GitHub's delivery: parsed as JSON and broadcast to the channel's listeners as
                    one message: the request's headers (lower-cased), `body`, `query`, `timestamp`.
  GET  /{channel}   (Accept: text/event-stream) `event: ready`, then each message as `data: {json}`,
                    and `event: ping` every `ping_s` seconds.

A message posted while nobody listens is lost, as on smee.io.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


class Smee:
    def __init__(self, ping_s: float = 30.0) -> None:
        self.ping_s = ping_s
        self.listeners: dict[str, set[asyncio.Queue[str]]] = {}
        self.posted = 0
        self.app = Starlette(routes=[Route("/{channel}", self.channel, methods=["GET", "POST"])])

    async def channel(self, request: Request) -> Response:
        name = request.path_params["channel"]
        if request.method == "POST":
            return await self._post(request, name)
        if "text/event-stream" not in request.headers.get("accept", ""):
            return Response("<html>channel page</html>", media_type="text/html")
        return StreamingResponse(self._stream(request, name), media_type="text/event-stream")

    async def _post(self, request: Request, name: str) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = {}
        message = dict(request.headers) | {
            "body": body,
            "query": dict(request.query_params),
            "timestamp": int(time.time() * 1000),
        }
        self.posted += 1
        for queue in self.listeners.get(name, set()):
            queue.put_nowait(f"data: {json.dumps(message)}\n\n")
        return Response(status_code=200)

    async def _stream(self, request: Request, name: str) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.listeners.setdefault(name, set()).add(queue)
        try:
            yield "event: ready\ndata: {}\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), self.ping_s)
                except TimeoutError:
                    yield "event: ping\ndata: {}\n\n"
        finally:
            self.listeners[name].discard(queue)
