"""The fingerprint lock on a real Redis: one holder, re-entrant for the same job, released by it only."""

from __future__ import annotations

from redis.asyncio import Redis

from jobs.locks import FingerprintLock


async def test_one_job_holds_the_lock_and_only_it_releases_it(redis: Redis) -> None:
    first = FingerprintLock(redis, 1, "v1:aa", "job-a")
    second = FingerprintLock(redis, 1, "v1:aa", "job-b")
    assert await first.acquire()
    assert not await second.acquire()
    assert not await second.release()
    assert await second.holder_now() == "job-a"
    assert await FingerprintLock(redis, 1, "v1:aa", "job-a").acquire()  # the same job, retried
    assert await first.release()
    assert await second.acquire()
    assert first.fence is not None
    assert second.fence is not None
    assert second.fence > first.fence


async def test_other_fingerprints_and_repos_do_not_contend(redis: Redis) -> None:
    assert await FingerprintLock(redis, 1, "v1:aa", "a").acquire()
    assert await FingerprintLock(redis, 1, "v1:bb", "b").acquire()
    assert await FingerprintLock(redis, 2, "v1:aa", "c").acquire()
