"""Dead letters: jobs that stopped for good with an error nobody handled, kept where people look.

A poison job (one that raises on every try) or one whose retries ran out leaves a record here, an
audit entry and, when it had one, a failed job record. The dashboard and `autofix doctor` read them;
nothing is retried from here on its own: a person decides (`/autofix retry`, a redelivery).

  autofix:deadletters            sorted set: job id -> when it died
  autofix:deadletter:{job_id}    JSON: job_id, function, tries, error, at
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

INDEX = "autofix:deadletters"
KEY = "autofix:deadletter:{job_id}"
TTL_S = 30 * 86_400
MAX_KEPT = 10_000
MAX_ERROR_CHARS = 2_000


async def add_dead_letter(
    redis: Redis, job_id: str, function: str, tries: int, error: str, *, now: float | None = None
) -> None:
    now = time.time() if now is None else now
    entry = {
        "job_id": job_id,
        "function": function,
        "tries": tries,
        "error": error[:MAX_ERROR_CHARS],
        "at": now,
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(KEY.format(job_id=job_id), json.dumps(entry), ex=TTL_S)
        pipe.zadd(INDEX, {job_id: now})
        pipe.zremrangebyscore(INDEX, "-inf", now - TTL_S)
        pipe.zremrangebyrank(INDEX, 0, -MAX_KEPT - 1)
        await pipe.execute()


async def dead_letters(redis: Redis, limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead letters first."""
    ids = await cast("Awaitable[list[bytes]]", redis.zrevrange(INDEX, 0, limit - 1))
    out = []
    for job_id in ids:
        raw = await redis.get(KEY.format(job_id=job_id.decode()))
        if raw:
            out.append(json.loads(raw))
    return out
