"""Budget ledgers in Redis: fix attempts per hour and day, model dollars per day and month, per repo;
and model dollars per installation per UTC day, across all its repositories.

The repository ledgers are idempotent, because jobs are retried: an attempt is a sorted-set member keyed
by its job id (a retry does not count twice), and spend is recorded as a job's running *total* in a hash
keyed by job id (a retry overwrites its own entry instead of adding to it). Days and months are UTC.
The gate (jobs/gate.py) reads `usage()`; nothing here decides anything.

The installation's day is enforced, not only read: every model call of every job of the installation
reserves its worst case in one Redis hash (a Lua script checks the day's total and adds to it in one
step), so jobs running at once in any number of workers cannot jointly pass the cap; the call settles
to what it really cost. A job's entry is what it spent or holds that day; a job killed mid-call leaves
its hold counted, which errs towards stopping. The next UTC day is a new hash: calls resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from app.settings import Settings

JOBS = "autofix:budget:{repo_id}:jobs"
SPEND = "autofix:budget:{repo_id}:spend:{period}"
INSTALLATION_DAY = "autofix:budget:installation:{installation_id}:day:{day}"
DAY_TTL_S = 3 * 86_400
MONTH_TTL_S = 40 * 86_400
KEEP_JOBS_S = 2 * 86_400


INSTALLATION_CAP_REACHED = (
    "Budget reached: {spent:.2f} of {cap:.2f} dollars spent today by this installation, across its "
    "repositories (`AUTOFIX_INSTALLATION_DAILY_DOLLARS`); it resets at 00:00 UTC."
)


def render_installation_cap(spent: float, cap: float) -> str:
    """The sentence of a job skipped for the installation's daily cap (the gate's and the engine's). Pure."""
    return INSTALLATION_CAP_REACHED.format(spent=spent, cap=cap)


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


# KEYS[1]: the installation's day (job id -> dollars spent or held). ARGV: job id, dollars, cap, ttl.
# Returns {1, total before} when held, {0, total} when the cap would be passed; totals as strings.
_RESERVE = """
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return {0, tostring(total)} end
redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, tostring(total)}
"""


@dataclass(frozen=True)
class Hold:
    key: str  # the day it was taken on: a call that ends after midnight settles on its own day
    dollars: float


@dataclass(frozen=True)
class Refused:
    spent: float  # spent or held today by the installation's jobs
    cap: float
    need: float


class InstallationBudget:
    """Model dollars per installation per UTC day, shared by every job of every repository it covers.
    One per job: `reserve` before a model call, `settle` after it (with 0.0 when it was not answered)."""

    def __init__(
        self,
        redis: Redis,
        installation_id: int,
        cap: float,
        job_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.installation_id = installation_id
        self.cap = cap
        self.job_id = job_id
        self.clock = clock

    def _key(self, now: float) -> str:
        day, _, _ = periods(now)
        return INSTALLATION_DAY.format(installation_id=self.installation_id, day=day)

    async def reserve(self, dollars: float) -> Hold | Refused:
        key = self._key(self.clock())
        args = (self.job_id, repr(dollars), repr(self.cap), str(DAY_TTL_S))
        held, total = await self.redis.eval(_RESERVE, 1, key, *args)  # type: ignore[misc]
        if not int(held):
            return Refused(round(float(total), 6), self.cap, dollars)
        return Hold(key, dollars)

    async def settle(self, hold: Hold, spent: float) -> None:
        """Replace the hold by what the call cost (0.0: it was not answered)."""
        await self.redis.hincrbyfloat(hold.key, self.job_id, spent - hold.dollars)  # type: ignore[misc]

    async def spent_today(self) -> float:
        return _total(await self.redis.hvals(self._key(self.clock())))  # type: ignore[misc]


def build_installation_budget(
    settings: Settings,
    redis: Redis,
    installation_id: int,
    job_id: str,
    clock: Callable[[], float] = time.time,
) -> InstallationBudget | None:
    """The job's share of its installation's day, or None when AUTOFIX_INSTALLATION_DAILY_DOLLARS is unset."""
    cap = settings.autofix_installation_daily_dollars
    return None if cap is None else InstallationBudget(redis, installation_id, cap, job_id, clock)
