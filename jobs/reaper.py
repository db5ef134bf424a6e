"""The reaper: a job whose worker died (SIGKILL, OOM, a lost host) runs again within a minute, not
after its two-hour timeout.

arq marks a running job with `arq:in-progress:{job_id}`, expiring at the job's timeout plus a margin;
until it expires no other worker takes the job, which still sits in the queue. Each worker notes
which jobs it runs (`autofix:running`: job id -> worker id) and beats its heartbeat (app/stats.py).
Every 15 seconds, on one worker at a time, the reaper looks for jobs whose worker has stopped beating
and deletes their in-progress marker: the next poll of any worker takes the job again as its next
try, and the job resumes from its checkpoints.

`orphans` is pure; the rest is Redis.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Mapping
from typing import Any, cast

from arq.constants import in_progress_key_prefix
from arq.cron import CronJob, cron
from redis.asyncio import Redis

from app.audit import append_audit
from app.stats import ALIVE_S, HEARTBEAT_S, WORKERS

log = logging.getLogger("autofix.reaper")
RUNNING = "autofix:running"  # hash: job id -> worker id
LOCK = "autofix:reaper:lock"
LOCK_TTL_MS = 14_000
GRACE_S = ALIVE_S + HEARTBEAT_S  # a worker silent this long (four beats missed) is dead
REAP_SECONDS = {5, 20, 35, 50}
_FREE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""  # so a dead worker's job runs again within GRACE_S + 15 s


async def note_running(redis: Redis, job_id: str, worker_id: str) -> None:
    await cast("Awaitable[int]", redis.hset(RUNNING, job_id, worker_id))


async def note_done(redis: Redis, job_id: str) -> None:
    await cast("Awaitable[int]", redis.hdel(RUNNING, job_id))


def orphans(running: Mapping[str, str], last_beat: Mapping[str, float], now: float) -> list[str]:
    """Jobs whose worker has not beaten for GRACE_S (or never did)."""
    return sorted(job for job, worker in running.items() if now - last_beat.get(worker, 0.0) > GRACE_S)


async def reap(redis: Redis, *, now: float | None = None) -> list[str]:
    """Free the jobs of dead workers for another worker; the job ids freed."""
    now = time.time() if now is None else now
    running = await _running(redis)
    if not running:
        return []
    beats = await redis.zrange(WORKERS, 0, -1, withscores=True)
    last_beat = {member.decode(): float(score) for member, score in beats}
    return await _free(redis, {job: running[job] for job in orphans(running, last_beat, now)})


async def free_jobs_of(
    redis: Redis, workers: set[str], *, keep: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """Free at once the jobs of `workers`, which the caller knows are gone (it closed them after
    Redis went away), instead of waiting GRACE_S for their heartbeats to go stale; but not the jobs
    in `keep` (still running in this process: the reaper frees them once they end)."""
    running = await _running(redis)
    gone = {job: worker for job, worker in running.items() if worker in workers and job not in keep}
    return await _free(redis, gone)


async def _running(redis: Redis) -> dict[str, str]:
    raw = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(RUNNING))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def _free(redis: Redis, jobs: Mapping[str, str]) -> list[str]:
    freed = []
    for job_id, worker in sorted(jobs.items()):
        # only if the job is still noted as that worker's: another may have taken it meanwhile
        keys_and_args = (RUNNING, in_progress_key_prefix + job_id, job_id, worker)
        if not await cast("Awaitable[int]", redis.eval(_FREE, 2, *keys_and_args)):
            continue
        log.warning("freed job %s of dead worker %s", job_id, worker, extra={"job_id": job_id})
        await append_audit(redis, "job.reaped", job_id=job_id, worker=worker)
        freed.append(job_id)
    return freed


async def reap_once(ctx: dict[str, Any]) -> dict[str, Any]:
    """The cron job: reap under a lock, so one worker at a time does it."""
    redis: Redis = ctx["redis"]
    token = secrets.token_hex(8)
    if not await redis.set(LOCK, token, nx=True, px=LOCK_TTL_MS):
        return {"skipped": "another worker is reaping"}
    try:
        return {"freed": await reap(redis)}
    finally:
        if (await redis.get(LOCK)) == token.encode():
            await redis.delete(LOCK)


def cron_jobs() -> list[CronJob]:
    return [cron(reap_once, name="reap", second=REAP_SECONDS, run_at_startup=True, unique=True, timeout=10)]
