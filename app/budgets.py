"""Budget ledgers in Redis: fix attempts per hour and day, model dollars per day and month, per repo.

Both ledgers are idempotent, because jobs are retried: an attempt is a sorted-set member keyed by its
job id (a retry does not count twice), and spend is recorded as a job's running *total* in a hash
keyed by job id (a retry overwrites its own entry instead of adding to it). Days and months are UTC.
The gate (jobs/gate.py) reads `usage()`; nothing here decides anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

JOBS = "autofix:budget:{repo_id}:jobs"
SPEND = "autofix:budget:{repo_id}:spend:{period}"
DAY_TTL_S = 3 * 86_400
MONTH_TTL_S = 40 * 86_400
KEEP_JOBS_S = 2 * 86_400


@dataclass(frozen=True)
class BudgetUsage:
    jobs_last_hour: int
    jobs_today: int
    dollars_today: float
    dollars_this_month: float


def periods(now: float) -> tuple[str, str, float]:
    """The UTC day and month names of `now`, and the timestamp of that day's midnight."""
    t = datetime.fromtimestamp(now, UTC)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return t.strftime("%Y-%m-%d"), t.strftime("%Y-%m"), midnight


class BudgetLedger:
    def __init__(self, redis: Redis, repo_id: int) -> None:
        self.redis = redis
        self.repo_id = repo_id

    def _spend_key(self, period: str) -> str:
        return SPEND.format(repo_id=self.repo_id, period=period)

    async def record_attempt(self, job_id: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        key = JOBS.format(repo_id=self.repo_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {job_id: now}, nx=True)  # a retry keeps its first time
            pipe.zremrangebyscore(key, "-inf", now - KEEP_JOBS_S)
            pipe.expire(key, KEEP_JOBS_S)
            await pipe.execute()

    async def record_spend(self, job_id: str, job_total_dollars: float, *, now: float | None = None) -> None:
        """Record what `job_id` has spent so far (its running total, not an increment)."""
        day, month, _ = periods(time.time() if now is None else now)
        async with self.redis.pipeline(transaction=True) as pipe:
            for period, ttl in ((day, DAY_TTL_S), (month, MONTH_TTL_S)):
                pipe.hset(self._spend_key(period), job_id, repr(round(job_total_dollars, 6)))
                pipe.expire(self._spend_key(period), ttl)
            await pipe.execute()

    async def usage(self, *, now: float | None = None) -> BudgetUsage:
        now = time.time() if now is None else now
        day, month, midnight = periods(now)
        key = JOBS.format(repo_id=self.repo_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(key, now - 3600, "+inf")
            pipe.zcount(key, midnight, "+inf")
            pipe.hvals(self._spend_key(day))
            pipe.hvals(self._spend_key(month))
            hour, today, day_values, month_values = await pipe.execute()
        return BudgetUsage(int(hour), int(today), _total(day_values), _total(month_values))


def _total(values: list[bytes | str]) -> float:
    return round(sum(float(v) for v in values), 6)
