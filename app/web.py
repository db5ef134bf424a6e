"""The Starlette app: the webhook endpoint and the operations endpoints.

`build_app(settings, redis_url)` builds everything in the lifespan, so importing this module reads
no environment and opens no connection. Endpoints:

  POST /webhooks/github   GitHub deliveries (app.webhook)
  GET  /healthz           the process is up
  GET  /readyz            Redis answers (503 otherwise)
  GET  /metrics           Prometheus text
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.metrics import CONTENT_TYPE, WebMetrics
from app.queue import QUEUE, DeliveryQueue
from app.routing import handled_events
from app.settings import Settings
from app.webhook import Ingest, receive_webhook

REDIS_TIMEOUT_S = 2.0
log = logging.getLogger("autofix.web")


def connect_redis(url: str) -> Redis:
    """A pooled client with short timeouts and one quick retry, so a restarted Redis heals at once."""
    redis: Redis = Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )
    return redis


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    redis: Redis = request.state.redis
    try:
        await redis.ping()
    except (RedisError, OSError) as e:
        return JSONResponse({"status": "unavailable", "redis": type(e).__name__}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    ingest: Ingest = request.state.ingest
    with contextlib.suppress(RedisError, OSError):
        ingest.metrics.queue_depth.set(await request.state.redis.zcard(QUEUE))
    return PlainTextResponse(ingest.metrics.render(), media_type=CONTENT_TYPE)


def build_app(settings: Settings, redis_url: str) -> Starlette:
    secrets = settings.webhook_secrets()
    if not secrets:
        raise ValueError("build_app needs GITHUB_WEBHOOK_SECRET")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        redis = connect_redis(redis_url)
        ingest = Ingest(settings, secrets, DeliveryQueue(redis), WebMetrics(handled_events()))
        try:
            yield {"redis": redis, "ingest": ingest}
        finally:
            await redis.aclose()

    routes = [
        Route("/webhooks/github", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
