"""Counters by UTC day: the worker writes them, the dashboard, `/metrics` and `autofix report` read them.

Web and worker are separate processes (often separate hosts), so counters live in Redis:

  autofix:stats:day:{YYYY-MM-DD}   hash of counters for that day (fields below), kept 400 days
  autofix:stats:total              the same counters since the beginning (Prometheus counters)
  autofix:stats:ttp:{YYYY-MM-DD}   list: seconds from failure to PR of each PR opened that day
  autofix:stats:fp:{YYYY-MM-DD}    sorted set: failing fingerprints seen that day, by count
  autofix:stats:github             hash: the last rate-limit reading (remaining, limit, reset, at)
  autofix:workers                  sorted set: worker id -> last heartbeat; detail at autofix:worker:{id}

Counter fields (`DayStats.get`, `DayStats.by_prefix`):

  jobs:{kind}                   jobs finished, by kind (fix_check_run, fix_issue, run_command …)
  outcome:{kind}:{outcome}      finished jobs by kind and outcome code (pr_opened, skipped, unproven …)
  reason:{kind}:{reason}        refusals and skips by kind and reason code (the gate's code)
  proven                        jobs whose sandbox proved a fix
  prs:{what}                    opened | merged | closed | reverted
  tokens:{model} dollars:{model}  model usage
  sandbox:{backend}:{outcome}   sandbox runs (backend local|actions; outcome passed|failed|error|timeout …)
  phase_seconds:{phase} phase_count:{phase}   time spent in each job phase
  github_calls                  GitHub API requests
  flaky                         flaky tests found
  ttp_seconds ttp_count         time-to-PR sum and count (the total hash only; days keep the list)

A job's counters are applied once per job id (a retried job does not count twice): `apply(...,
once=job_id)` runs as one Lua script that claims the id and increments together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis

DAY = "autofix:stats:day:{day}"
TOTAL = "autofix:stats:total"
TTP = "autofix:stats:ttp:{day}"
FINGERPRINTS = "autofix:stats:fp:{day}"
GITHUB = "autofix:stats:github"
COUNTED = "autofix:stats:counted:{job_id}"
WORKERS = "autofix:workers"
WORKER = "autofix:worker:{worker_id}"

DAY_TTL_S = 400 * 86_400
COUNTED_TTL_S = 90 * 86_400
TTP_KEEP = 10_000  # PRs per day whose time-to-PR is kept for the median
HEARTBEAT_S = 10  # workers beat this often
ALIVE_S = 3 * HEARTBEAT_S  # and are alive while their last beat is this recent

# KEYS[1] the once-key (or "" for none); ARGV[1] its TTL; then ARGV triples: key, field, amount.
# Amounts are applied with HINCRBYFLOAT so dollars and integers share one path; day hashes expire.
_APPLY = """
if KEYS[1] ~= '' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
end
for i = 2, #ARGV, 3 do
  redis.call('HINCRBYFLOAT', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  if string.sub(ARGV[i], 1, %d) == '%s' then redis.call('EXPIRE', ARGV[i], %d) end
end
return 1
"""


def day_of(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def days_back(now: float, n: int) -> list[str]:
    """The last `n` UTC days ending with today's, oldest first."""
    today = datetime.fromtimestamp(now, UTC)
    return [(today - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(n - 1, -1, -1)]


def _num(raw: bytes | str) -> float:
    value = float(raw)
    return int(value) if value.is_integer() else value


@dataclass
class DayStats:
    day: str
    counters: dict[str, float] = field(default_factory=dict)
    time_to_pr: list[float] = field(default_factory=list)  # seconds, one per PR opened that day
    fingerprints: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> float:
        return self.counters.get(name, 0)

    def by_prefix(self, prefix: str) -> dict[str, float]:
        """`by_prefix("prs:")` -> {"opened": 3, "merged": 1}."""
        return {k[len(prefix) :]: v for k, v in self.counters.items() if k.startswith(prefix)}

    def sum_prefix(self, prefix: str) -> float:
        return sum(v for k, v in self.counters.items() if k.startswith(prefix))


class Counts:
    """Increments to apply together: `Counts().add(day, "proven").add(day, "prs:opened")`."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, float]] = []

    def add(self, day: str, name: str, amount: float = 1) -> Counts:
        """Count `name` on `day` and in the running total."""
        self.items.append((DAY.format(day=day), name, amount))
        self.items.append((TOTAL, name, amount))
        return self


async def apply(redis: Redis, counts: Counts, *, once: str | None = None) -> bool:
    """Apply `counts` atomically; with `once`, only the first call for that job id counts.
    Returns whether the counts were applied."""
    if not counts.items:
        return False
    argv: list[Any] = [COUNTED_TTL_S]
    for key, name, amount in counts.items:
        argv += [key, name, repr(float(amount))]
    prefix = DAY.format(day="")
    script = _APPLY % (len(prefix), prefix, DAY_TTL_S)
    done = await cast(
        "Awaitable[int]", redis.eval(script, 1, COUNTED.format(job_id=once) if once else "", *argv)
    )
    return bool(done)


async def add_time_to_pr(redis: Redis, seconds: float, *, now: float | None = None) -> None:
    key = TTP.format(day=day_of(time.time() if now is None else now))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, f"{seconds:.3f}")
        pipe.ltrim(key, -TTP_KEEP, -1)
        pipe.expire(key, DAY_TTL_S)
        pipe.hincrbyfloat(TOTAL, "ttp_seconds", seconds)
        pipe.hincrbyfloat(TOTAL, "ttp_count", 1)
        await pipe.execute()


async def add_fingerprint(redis: Redis, fingerprint: str, *, now: float | None = None) -> None:
    key = FINGERPRINTS.format(day=day_of(time.time() if now is None else now))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zincrby(key, 1, fingerprint)
        pipe.expire(key, DAY_TTL_S)
        await pipe.execute()


async def read_days(redis: Redis, days: Iterable[str]) -> list[DayStats]:
    """The stats of each day in `days`, in that order (days with nothing recorded are empty)."""
    days = list(days)
    async with redis.pipeline(transaction=False) as pipe:
        for day in days:
            pipe.hgetall(DAY.format(day=day))
            pipe.lrange(TTP.format(day=day), 0, -1)
            pipe.zrevrange(FINGERPRINTS.format(day=day), 0, 49, withscores=True)
        replies = await pipe.execute()
    out = []
    for i, day in enumerate(days):
        counters, ttp, fps = replies[3 * i : 3 * i + 3]
        out.append(
            DayStats(
                day,
                {k.decode(): _num(v) for k, v in counters.items()},
                [float(s) for s in ttp],
                {fp.decode(): int(score) for fp, score in fps},
            )
        )
    return out


async def read_total(redis: Redis) -> dict[str, float]:
    raw = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(TOTAL))
    return {k.decode(): _num(v) for k, v in raw.items()}


def merge(days: Iterable[DayStats]) -> DayStats:
    """Several days as one: counters summed, time-to-PR lists joined, fingerprints added up."""
    out = DayStats("")
    for d in days:
        for k, v in d.counters.items():
            out.counters[k] = out.counters.get(k, 0) + v
        out.time_to_pr += d.time_to_pr
        for fp, n in d.fingerprints.items():
            out.fingerprints[fp] = out.fingerprints.get(fp, 0) + n
    return out


def median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


async def set_github_rate(redis: Redis, remaining: int, limit: int, reset: int, *, now: float) -> None:
    mapping: Mapping[str, str] = {
        "remaining": str(remaining),
        "limit": str(limit),
        "reset": str(reset),
        "at": f"{now:.3f}",
    }
    await cast("Awaitable[int]", redis.hset(GITHUB, mapping=dict(mapping)))


async def read_github_rate(redis: Redis) -> dict[str, float]:
    raw = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(GITHUB))
    return {k.decode(): float(v) for k, v in raw.items()}


async def heartbeat(
    redis: Redis, worker_id: str, info: Mapping[str, Any], *, now: float | None = None
) -> None:
    """Say worker `worker_id` is alive, with what it is doing (queue, host, pid, running jobs …)."""
    now = time.time() if now is None else now
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(WORKERS, {worker_id: now})
        pipe.set(WORKER.format(worker_id=worker_id), json.dumps(dict(info) | {"at": now}), ex=10 * ALIVE_S)
        pipe.zremrangebyscore(WORKERS, "-inf", now - 86_400)
        await pipe.execute()


async def workers_alive(redis: Redis, *, now: float | None = None) -> list[dict[str, Any]]:
    """Workers whose last heartbeat is within ALIVE_S, each with its reported info and `id`."""
    now = time.time() if now is None else now
    ids = await redis.zrangebyscore(WORKERS, now - ALIVE_S, "+inf")
    out = []
    for raw_id in ids:
        worker_id = raw_id.decode()
        info = await redis.get(WORKER.format(worker_id=worker_id))
        out.append({"id": worker_id} | (json.loads(info) if info else {}))
    return out
