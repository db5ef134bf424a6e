"""POST /webhooks/github: verify, route, enqueue, answer. Nothing slow happens here.

The order matters: the body is read with a cap (413), the signature is checked on the raw bytes
before anything is parsed (401, nothing stored), then headers and JSON are checked (400), routed
(pure; a delivery that asks for work without naming its `installation` is refused there, 400 and a
log line, while `ping` and ignored events keep their answers), and enqueued in one Redis round
trip. 202 is sent only after Redis accepted the jobs; when it cannot, 503, so that GitHub records
a failed delivery that can be redelivered.

This is the one hot path, so it is a plain ASGI callable that the app dispatches to before
Starlette's middleware and router (app.web); everything else is ordinary Starlette.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from app.metrics import WebMetrics
from app.payloads import MalformedPayload
from app.queue import DeliveryQueue
from app.routing import route
from app.settings import Settings
from app.signatures import verify_signature

PATH = "/webhooks/github"
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub's own cap on webhook payloads
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_EVENT = re.compile(r"[a-z_]{1,64}")
_TARGET_ID = b"x-github-hook-installation-target-id"
_TARGET_TYPE = b"x-github-hook-installation-target-type"
_CONTENT_TYPE = b"content-type"
_WANTED = {
    b"content-length",
    _CONTENT_TYPE,
    b"x-github-event",
    b"x-github-delivery",
    b"x-hub-signature-256",
    _TARGET_ID,
    _TARGET_TYPE,
}
_SIGNATURE = b"x-hub-signature-256"
# GitHub sends `integration` on an App's deliveries (captured headers); a docs proposal calls it `app`
_APP_TARGET_TYPES = frozenset({"integration", "app"})
_JSON_HEADERS = [(b"content-type", b"application/json")]

log = logging.getLogger("autofix.webhook")
Answer = tuple[int, dict[str, Any]]


@dataclass
class Ingest:
    """What the endpoint needs, built once in the app's lifespan."""

    settings: Settings
    secrets: tuple[bytes, ...]
    queue: DeliveryQueue
    metrics: WebMetrics
    app_id: str | None = field(init=False)  # GITHUB_APP_ID as the header spells it, formatted once

    def __post_init__(self) -> None:
        app_id = self.settings.github_app_id
        self.app_id = None if app_id is None else str(app_id)


async def receive_webhook(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI endpoint: read the headers we need and the capped body, decide, answer in JSON."""
    if scope["method"] != "POST":
        return await _send(send, 405, {"error": "use POST"}, ((b"allow", b"POST"),))
    ingest: Ingest = scope["state"]["ingest"]
    wanted = [(k, v) for k, v in scope["headers"] if k in _WANTED]
    headers = {k: v.decode("latin-1") for k, v in wanted}
    if len(headers) < len(wanted) and sum(k == _SIGNATURE for k, _ in wanted) > 1:
        headers[_SIGNATURE] = ""  # A4: two signatures are no signature (which one would GitHub mean?)
    body = await _read_body(receive, headers.get(b"content-length"), MAX_BODY_BYTES)
    status, answer = await handle_delivery(ingest, headers, body)
    await _send(send, status, answer)


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed `limit` (never buffered past it)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(
    send: Send, status: int, answer: dict[str, Any], extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = orjson.dumps(answer)
    headers = [*_JSON_HEADERS, (b"content-length", b"%d" % len(body)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def handle_delivery(ingest: Ingest, headers: dict[bytes, str], body: bytes | None) -> Answer:
    event = headers.get(b"x-github-event", "")
    if body is None:
        ingest.metrics.delivery(event, "too_large")
        return 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}
    if not verify_signature(ingest.secrets, body, headers.get(b"x-hub-signature-256")):
        ingest.metrics.delivery(event, "unauthorized")  # labels stay bounded: unknown names are "other"
        return 401, {"error": "missing or invalid X-Hub-Signature-256"}
    if ingest.app_id is not None and not _for_us(ingest.app_id, headers):
        ingest.metrics.delivery(event, "wrong_target")
        return 400, {"error": f"delivery is for another GitHub App, not App {ingest.app_id}"}
    content_type = headers.get(_CONTENT_TYPE)
    if content_type is not None and not content_type.lower().startswith("application/json"):
        ingest.metrics.delivery(event, "bad_request")  # A6: a hook set to form encoding, say
        return 415, {"error": "deliveries must be application/json (the webhook's content type)"}
    delivery = headers.get(b"x-github-delivery", "")
    if not _EVENT.fullmatch(event) or not _DELIVERY_ID.fullmatch(delivery):
        ingest.metrics.delivery(event, "bad_request")
        return 400, {"error": "missing or malformed X-GitHub-Event or X-GitHub-Delivery header"}
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
        return 200, {"delivery": delivery, "pong": True}
    try:
        routed = route(event, payload, ingest.settings)
    except MalformedPayload as e:
        return _reject(ingest, ctx, str(e))
    if not routed.jobs:
        ingest.metrics.delivery(event, "ignored")
        log.info("ignored: %s", routed.ignored, extra=ctx | {"outcome": "ignored"})
        return 202, {"delivery": delivery, "jobs": [], "ignored": routed.ignored}
    started = time.perf_counter()
    try:
        result = await ingest.queue.enqueue(delivery, routed.jobs)
    except (RedisError, OSError) as e:
        ingest.metrics.delivery(event, "unavailable")
        log.error("queue unavailable: %s", e, extra=ctx | {"outcome": "unavailable"})
        return 503, {"error": "job queue unavailable; redeliver this delivery later"}
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
    return 202, answer


def _for_us(app_id: str, headers: dict[bytes, str]) -> bool:
    """An App's delivery must name our App as its target. Other hook types (a repository or
    organization webhook sharing the secret) and requests without the header (`autofix replay`)
    carry no App id to compare, so they pass: the signature already proved the sender."""
    target = headers.get(_TARGET_ID)
    if target is None or headers.get(_TARGET_TYPE) not in _APP_TARGET_TYPES:
        return True
    return target == app_id


def _reject(ingest: Ingest, ctx: dict[str, Any], reason: str) -> Answer:
    ingest.metrics.delivery(ctx["event"], "bad_request")
    log.warning("rejected: %s", reason, extra=ctx | {"outcome": "bad_request"})
    return 400, {"delivery": ctx["delivery_id"], "error": reason}
