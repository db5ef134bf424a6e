"""POST /webhooks/github: verify, route, enqueue, answer. Nothing slow happens here.

The order matters: the body is read with a cap (413), the signature is checked on the raw bytes
before anything is parsed (401, nothing stored), then headers and JSON are checked (400), routed
(pure), and enqueued in one Redis round trip. 202 is sent only after Redis accepted the jobs; when
it cannot, 503, so that GitHub records a failed delivery that can be redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from app.metrics import WebMetrics
from app.payloads import MalformedPayload
from app.queue import DeliveryQueue
from app.routing import route
from app.settings import Settings
from app.signatures import verify_signature

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub's own cap on webhook payloads
ENQUEUE_TIMEOUT_S = 5.0  # well inside GitHub's 10 s delivery timeout
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_EVENT = re.compile(r"[a-z_]{1,64}")

log = logging.getLogger("autofix.webhook")


@dataclass
class Ingest:
    """What the endpoint needs, built once in the app's lifespan."""

    settings: Settings
    secrets: tuple[bytes, ...]
    queue: DeliveryQueue
    metrics: WebMetrics


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed `limit` (never buffered past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_webhook(request: Request) -> Response:
    ingest: Ingest = request.state.ingest
    event = request.headers.get("x-github-event", "")
    body = await _read_body(request, MAX_BODY_BYTES)
    if body is None:
        ingest.metrics.delivery(event, "too_large")
        return _json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
    if not verify_signature(ingest.secrets, body, request.headers.get("x-hub-signature-256")):
        ingest.metrics.delivery(event, "unauthorized")  # labels stay bounded: unknown names are "other"
        return _json(401, {"error": "missing or invalid X-Hub-Signature-256"})
    delivery = request.headers.get("x-github-delivery", "")
    if not _EVENT.fullmatch(event) or not _DELIVERY_ID.fullmatch(delivery):
        ingest.metrics.delivery(event, "bad_request")
        return _json(400, {"error": "missing or malformed X-GitHub-Event or X-GitHub-Delivery header"})
    return await _handle(ingest, event, delivery, body)


async def _handle(ingest: Ingest, event: str, delivery: str, body: bytes) -> Response:
    ctx: dict[str, Any] = {"delivery_id": delivery, "event": event}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        return _reject(ingest, ctx, "body is not a JSON object")
    ctx["action"] = payload.get("action") if isinstance(payload.get("action"), str) else None
    repo = payload.get("repository")
    ctx["repo"] = repo.get("full_name") if isinstance(repo, dict) else None
    if event == "ping":
        ingest.metrics.delivery(event, "ping")
        log.info("ping", extra=ctx)
        return _json(200, {"delivery": delivery, "pong": True})
    try:
        routed = route(event, payload, ingest.settings)
    except MalformedPayload as e:
        return _reject(ingest, ctx, str(e))
    if not routed.jobs:
        ingest.metrics.delivery(event, "ignored")
        log.info("ignored: %s", routed.ignored, extra=ctx | {"outcome": "ignored"})
        return _json(202, {"delivery": delivery, "jobs": [], "ignored": routed.ignored})
    started = time.perf_counter()
    try:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_S):
            result = await ingest.queue.enqueue(delivery, routed.jobs)
    except (RedisError, OSError, TimeoutError) as e:
        ingest.metrics.delivery(event, "unavailable")
        log.error("queue unavailable: %s", type(e).__name__, extra=ctx | {"outcome": "unavailable"})
        return _json(503, {"error": "job queue unavailable; redeliver this delivery later"})
    ingest.metrics.enqueue_seconds.observe(time.perf_counter() - started)
    outcome = (
        "duplicate" if result.duplicate else "coalesced" if result.existing == result.job_ids else "queued"
    )
    ingest.metrics.delivery(event, outcome)
    log.info(outcome, extra=ctx | {"outcome": outcome, "job_id": ",".join(result.job_ids)})
    answer: dict[str, Any] = {"delivery": delivery, "jobs": result.job_ids}
    if result.duplicate:
        answer["duplicate"] = True
    if result.existing:
        answer["already_queued"] = result.existing
    return _json(202, answer)


def _reject(ingest: Ingest, ctx: dict[str, Any], reason: str) -> Response:
    ingest.metrics.delivery(ctx["event"], "bad_request")
    log.warning("rejected: %s", reason, extra=ctx | {"outcome": "bad_request"})
    return _json(400, {"delivery": ctx["delivery_id"], "error": reason})
