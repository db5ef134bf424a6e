"""The reaper frees the jobs of workers that stopped beating, and only those."""

from __future__ import annotations

from redis.asyncio import Redis

from app import stats
from app.audit import read_audit
from jobs import reaper

NOW = 1_800_000_000.0


def test_orphans_are_jobs_of_silent_or_unknown_workers() -> None:
    running = {"a": "w-alive", "b": "w-dead", "c": "w-never-beat"}
    beats = {"w-alive": NOW - 5, "w-dead": NOW - reaper.GRACE_S - 1}
    assert reaper.orphans(running, beats, NOW) == ["b", "c"]


async def test_reap_frees_only_the_dead_workers_jobs(redis: Redis) -> None:
    await stats.heartbeat(redis, "w-alive", {"host": "h"}, now=NOW - 3)
    await stats.heartbeat(redis, "w-dead", {"host": "h"}, now=NOW - reaper.GRACE_S - 10)
    for job, worker in (("job-live", "w-alive"), ("job-orphan", "w-dead")):
        await reaper.note_running(redis, job, worker)
        await redis.set(f"arq:in-progress:{job}", b"1", px=7_200_000)

    assert await reaper.reap(redis, now=NOW) == ["job-orphan"]

    assert await redis.exists("arq:in-progress:job-orphan") == 0  # any worker may take it now
    assert await redis.exists("arq:in-progress:job-live") == 1
    assert await redis.hkeys(reaper.RUNNING) == [b"job-live"]
    [entry] = [e for e in await read_audit(redis) if e["kind"] == "job.reaped"]
    assert (entry["job_id"], entry["worker"]) == ("job-orphan", "w-dead")
    assert await reaper.reap(redis, now=NOW) == []


async def test_note_done_forgets_the_job(redis: Redis) -> None:
    await reaper.note_running(redis, "j", "w")
    await reaper.note_done(redis, "j")
    assert await reaper.reap(redis, now=NOW) == []


async def test_one_reaper_at_a_time(redis: Redis) -> None:
    await redis.set(reaper.LOCK, "someone-else", px=10_000)
    assert await reaper.reap_once({"redis": redis}) == {"skipped": "another worker is reaping"}
    await redis.delete(reaper.LOCK)
    assert await reaper.reap_once({"redis": redis}) == {"freed": []}
    assert await redis.exists(reaper.LOCK) == 0


def test_a_dead_workers_job_is_freed_within_a_minute() -> None:
    """The worst case: the worker dies just after a beat, and the reaper has just run."""
    [job] = reaper.cron_jobs()
    seconds = sorted(job.second)  # type: ignore[arg-type]  # a set here, by construction
    longest_gap = max(b - a for a, b in zip(seconds, [*seconds[1:], seconds[0] + 60], strict=True))
    assert reaper.GRACE_S + longest_gap <= 60
    assert longest_gap > reaper.LOCK_TTL_MS / 1000  # a crashed reaper's lock is gone by the next run


async def test_free_jobs_of_frees_a_gone_workers_jobs_but_not_those_still_running(redis: Redis) -> None:
    for job, worker in (("cut", "w-gone"), ("in-thread", "w-gone"), ("elsewhere", "w-other")):
        await reaper.note_running(redis, job, worker)
        await redis.set(f"arq:in-progress:{job}", b"1", px=7_200_000)

    assert await reaper.free_jobs_of(redis, {"w-gone"}, keep={"in-thread"}) == ["cut"]

    assert sorted(await redis.hkeys(reaper.RUNNING)) == [b"elsewhere", b"in-thread"]
    assert await redis.exists("arq:in-progress:in-thread", "arq:in-progress:elsewhere") == 2


async def test_a_job_another_worker_took_meanwhile_is_left_alone(redis: Redis) -> None:
    """The reaper read `job -> w-dead`; before it frees the job, w-new has taken it (the marker
    expired): its in-progress marker must stay."""
    await reaper.note_running(redis, "job", "w-new")
    await redis.set("arq:in-progress:job", b"1", px=7_200_000)
    assert await reaper._free(redis, {"job": "w-dead"}) == []
    assert await redis.exists("arq:in-progress:job") == 1
    assert await redis.hget(reaper.RUNNING, "job") == b"w-new"
