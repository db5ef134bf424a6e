"""Live updates of a job page: server-sent events from the job records' pubsub channel.

Each connection holds one subscription to `autofix:jobrec:events`, sends `event: job` with the whole
record when its job changes (and once at the start), a comment every `keepalive_s` so proxies keep
the connection, and unsubscribes when the client goes. At most `max_streams` at once per process.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app.dashboard.auth import Viewer
from app.dashboard.context import Dashboard, redis_of
from app.dashboard.jobs_view import job_row, timeline
from app.job_records import EVENTS, JobStore


def render_event(record_json: dict[str, object]) -> str:
    return f"event: job\ndata: {json.dumps(record_json, default=str)}\n\n"


async def _job_event(redis: Redis, job_id: str) -> str | None:
    record = await JobStore(redis).get(job_id)
    if record is None:
        return None
    return render_event(job_row(record) | {"phases": timeline(record)})


async def job_events(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    if dash.streams >= dash.max_streams:
        return JSONResponse(
            {"error": "too many live views open"}, status_code=503, headers={"retry-after": "15"}
        )
    job_id, redis = request.path_params["job_id"], redis_of(request)

    async def stream() -> AsyncIterator[str]:
        dash.streams += 1
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(EVENTS)
            first = await _job_event(redis, job_id)  # after subscribing: no change can slip between
            if first is not None:
                yield first
            while True:
                message = await pubsub.get_message(timeout=dash.keepalive_s)
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                data = json.loads(message["data"])
                if data.get("job_id") == job_id and (event := await _job_event(redis, job_id)):
                    yield event
        finally:
            dash.streams -= 1
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
