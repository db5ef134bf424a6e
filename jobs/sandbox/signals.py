"""The wake-up for a worker waiting on a sandbox workflow run, keyed by the run's correlation id.

The `workflow_run.completed` webhook becomes a `sandbox_finished` job (app/routing.py); that job
calls `post_run_finished`, which pushes onto a Redis list named after the correlation id found in
the run's title. The waiting ActionsSandbox blocks on that list (`BLPOP`) for a while, then polls
GitHub anyway: a lost or late webhook costs a poll interval, never the result. A signal that comes
before anyone waits stays in the list (for `TTL_S`), so there is no race between the two.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

PREFIX = "autofix:sandbox:done:"
TTL_S = 24 * 3600
CORRELATION = re.compile(r"\baf-[0-9a-f]{16}\b")


def new_correlation_id() -> str:
    return "af-" + secrets.token_hex(8)


def parse_correlation_id(title: str | None) -> str | None:
    """The correlation id in a run's title (`autofix-sandbox af-…`), or None."""
    found = CORRELATION.search(title or "")
    return found.group(0) if found else None


async def post_run_finished(redis: Redis, title: str | None, run_id: int, conclusion: str | None) -> bool:
    """Wake the worker waiting on this run; False when the title carries no correlation id."""
    correlation = parse_correlation_id(title)
    if correlation is None:
        return False
    key = PREFIX + correlation
    # redis-py types list commands as sync-or-async; on redis.asyncio they are awaitables
    await cast(Awaitable[int], redis.rpush(key, json.dumps({"run_id": run_id, "conclusion": conclusion})))
    await redis.expire(key, TTL_S)
    return True


async def wait_run_finished(redis: Redis, correlation_id: str, wait_s: float) -> dict[str, object] | None:
    """The finished-run signal for `correlation_id`, or None after `wait_s` seconds without one."""
    blpop = cast(Any, redis.blpop)  # accepts float seconds (Redis >= 6); typed as int
    found = await blpop([PREFIX + correlation_id], timeout=max(wait_s, 0.01))
    if found is None:
        return None
    data: dict[str, object] = json.loads(found[1])
    return data
