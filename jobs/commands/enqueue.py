"""Enqueue a fix job from the worker, in arq's layout and our JSON serialization (as app/queue.py
does for the web): the job is written only when no job or result with its id exists, so enqueueing
the same retry twice makes one job."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from app.queue import JOB_EXPIRES_MS, JOB_PREFIX, QUEUE, RESULT_PREFIX, deserialize, serialize

IN_PROGRESS_PREFIX = "arq:in-progress:"


async def enqueue_job(
    redis: Redis, function: str, job_id: str, args: dict[str, Any], *, queue: str = QUEUE
) -> bool:
    """Queue `function(args)` as `job_id`; False when that job already exists or has run."""
    now_ms = int(time.time() * 1000)
    body: dict[str, Any] = {"t": None, "f": function, "a": [args], "k": {}, "et": now_ms}
    if await redis.exists(RESULT_PREFIX + job_id):
        return False
    if not await redis.set(JOB_PREFIX + job_id, serialize(body), px=JOB_EXPIRES_MS, nx=True):
        return False
    await redis.zadd(queue, {job_id: now_ms})
    return True


async def queue_position(redis: Redis, job_id: str, *, queue: str = QUEUE) -> int | None:
    """0-based place of a job still waiting in the queue; None when it is running, done or unknown."""
    if await redis.exists(IN_PROGRESS_PREFIX + job_id):
        return None
    rank = await redis.zrank(queue, job_id)
    return int(rank) if rank is not None else None


async def waiting_jobs(
    redis: Redis, repo_id: int, numbers: set[int], *, queue: str = QUEUE, scan: int = 1000
) -> list[str]:
    """Ids of jobs still waiting in the queue whose request belongs to one of `numbers` in the repo."""
    from jobs.commands.thread import request_threads

    out = []
    for raw_id in await redis.zrange(queue, 0, scan - 1):
        job_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        if await redis.exists(IN_PROGRESS_PREFIX + job_id):
            continue
        data = await redis.get(JOB_PREFIX + job_id)
        try:
            args = deserialize(data)["a"][0] if data else None
        except (ValueError, KeyError, IndexError, TypeError):
            continue
        if isinstance(args, dict) and args.get("repo_id") == repo_id and request_threads(args) & numbers:
            out.append(job_id)
    return out
