"""What the dashboard reads from Redis: job records in bulk, the overview's facts, a job's audit
entries, audit pages. Every function here is `fetch_`: one or two round trips, no decisions."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from app import stats
from app.audit import AUDIT_STREAM
from app.dashboard.overview import OverviewFacts
from app.job_records import INDEX, KEY, JobRecord
from app.repo_state import GLOBAL_PAUSE
from jobs import names

RECENT_JOBS = 1_000  # the jobs list, the repos known and "running" look at this many newest records
RUNNING_FRESH_S = 24 * 3600  # a "running" record older than this is a crashed try, not a running job
AUDIT_SCAN = 5_000  # audit search and a job's audit entries look at this many newest entries
AUDIT_PAGE = 50


async def fetch_records(redis: Redis, ids: list[str]) -> list[JobRecord]:
    if not ids:
        return []
    raw = await cast("Awaitable[list[bytes | None]]", redis.mget([KEY.format(job_id=i) for i in ids]))
    return [JobRecord.from_json(json.loads(r)) for r in raw if r]


async def fetch_recent_records(
    redis: Redis, limit: int = RECENT_JOBS, since: float | None = None
) -> list[JobRecord]:
    """The newest records (by last update), newest first; only those updated at or after `since`."""
    if since is None:
        raw_ids = await redis.zrevrange(INDEX, 0, limit - 1)
    else:
        raw_ids = await redis.zrevrangebyscore(INDEX, "+inf", since, start=0, num=limit)
    return await fetch_records(redis, [i.decode() for i in raw_ids])


def count_running(records: list[JobRecord], now: float) -> int:
    return sum(1 for r in records if r.status == "running" and now - r.updated_at < RUNNING_FRESH_S)


async def fetch_overview_facts(
    redis: Redis, *, now: float | None = None, budgets: tuple[float | None, float | None] = (None, None)
) -> OverviewFacts:
    now = time.time() if now is None else now
    days = await stats.read_days(redis, stats.days_back(now, 31))
    running = count_running(await fetch_recent_records(redis), now)
    async with redis.pipeline(transaction=False) as pipe:
        for queue in (names.FIX_QUEUE, names.COMMAND_QUEUE):
            pipe.zcard(queue)
            pipe.zcount(queue, "-inf", int(now * 1000))  # ready to run (arq scores are ms)
        pipe.exists(GLOBAL_PAUSE)
        fix_all, fix_ready, cmd_all, cmd_ready, paused = await pipe.execute()
    workers = await stats.workers_alive(redis, now=now)
    return OverviewFacts(
        today=stats.day_of(now),
        days=days,
        running=running,
        # arq keeps a job in its queue while it runs: what waits is what is ready minus what runs
        queued=max(int(fix_ready) + int(cmd_ready) - running, 0),
        queue_depth=int(fix_all) + int(cmd_all),
        workers=workers,
        budget_day=budgets[0],
        budget_month=budgets[1],
        paused=bool(paused),
    )


def decode_entry(entry_id: bytes | str, raw: dict[bytes, bytes]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id.decode() if isinstance(entry_id, bytes) else entry_id}
    for k, v in raw.items():
        key = k.decode()
        try:
            item[key] = v.decode() if key in ("kind", "at") else orjson.loads(v)
        except orjson.JSONDecodeError:
            item[key] = v.decode(errors="replace")
    return item


async def fetch_audit_batch(redis: Redis, before: str | None, count: int) -> list[dict[str, Any]]:
    """`count` entries older than entry id `before` (the newest when None), newest first."""
    rows = await redis.xrevrange(AUDIT_STREAM, max=f"({before}" if before else "+", min="-", count=count)
    return [decode_entry(i, raw) for i, raw in rows]
