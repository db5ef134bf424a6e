"""The web app: the webhook endpoint and the operations endpoints.

`build_app(settings, redis_url)` builds everything in the lifespan, so importing this module reads
no environment and opens no connection. Endpoints:

  POST /webhooks/github   GitHub deliveries (app.webhook), dispatched before Starlette's stack
  GET  /healthz           the process is up
  GET  /readyz            Redis answers (503 otherwise)
  GET  /metrics           Prometheus text
  /login…, /dashboard…, /api/…  the dashboard (app.dashboard), behind sign-in
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app import webhook
from app.dashboard import dashboard_middleware, dashboard_routes
from app.metrics import CONTENT_TYPE, WebMetrics, fetch_snapshot
from app.pipelined_redis import PipelinedRedis
from app.queue import DeliveryQueue
from app.routing import handled_events
from app.settings import Settings
from app.setup.web import installed_route

REDIS_TIMEOUT_S = 2.0  # a stalled Redis becomes a 503 well inside GitHub's 10 s delivery timeout


class AutofixApp(Starlette):
    """Starlette, with the webhook path answered directly: it needs no middleware, and it is hot."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == webhook.PATH:
            await webhook.receive_webhook(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    redis: PipelinedRedis = request.state.redis
    try:
        await redis.execute("PING")
    except (RedisError, OSError) as e:
        return JSONResponse({"status": "unavailable", "redis": type(e).__name__}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    """The web side's series, and the worker's read from Redis (without them when Redis fails)."""
    ingest: webhook.Ingest = request.state.ingest
    snapshot = None
    with contextlib.suppress(RedisError, OSError):
        snapshot = await fetch_snapshot(request.state.redis, time.time())
    return PlainTextResponse(ingest.metrics.render(snapshot), media_type=CONTENT_TYPE)


def build_app(settings: Settings, redis_url: str) -> Starlette:
    secrets = settings.webhook_secrets()
    if not secrets:
        raise ValueError("build_app needs GITHUB_WEBHOOK_SECRET")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        redis = PipelinedRedis(redis_url, timeout=REDIS_TIMEOUT_S)
        ingest = webhook.Ingest(settings, secrets, DeliveryQueue(redis), WebMetrics(handled_events()))
        dashboard_redis = Redis.from_url(redis_url)  # the dashboard's reads, and its live-update pubsub
        try:
            yield {"redis": redis, "ingest": ingest, "dashboard_redis": dashboard_redis}
        finally:
            await dashboard_redis.aclose()
            await redis.aclose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *dashboard_routes(settings),
        installed_route(settings),  # where GitHub sends people who installed the App
    ]
    return AutofixApp(routes=routes, lifespan=lifespan, middleware=dashboard_middleware(settings))
