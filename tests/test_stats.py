"""app/stats.py on a real Redis: counters by day and in total, once per job, readers."""

from __future__ import annotations

from redis.asyncio import Redis

from app import stats

NOW = 1_763_700_000.0  # 2025-11-21 04:40 UTC
TODAY = stats.day_of(NOW)


def test_days_back_ends_today_oldest_first() -> None:
    days = stats.days_back(NOW, 3)
    assert days == ["2025-11-19", "2025-11-20", "2025-11-21"]
    assert days[-1] == TODAY


async def test_counts_apply_to_the_day_and_the_total(redis: Redis) -> None:
    counts = stats.Counts().add(TODAY, "jobs:fix_issue").add(TODAY, "dollars:claude", 0.125)
    assert await stats.apply(redis, counts)
    assert await stats.apply(redis, stats.Counts().add("2025-11-20", "jobs:fix_issue", 2))
    yesterday, today = await stats.read_days(redis, ["2025-11-20", TODAY])
    assert today.get("jobs:fix_issue") == 1
    assert today.get("dollars:claude") == 0.125
    assert yesterday.get("jobs:fix_issue") == 2
    assert (await stats.read_total(redis)) == {"jobs:fix_issue": 3, "dollars:claude": 0.125}
    assert 0 < await redis.ttl(stats.DAY.format(day=TODAY)) <= stats.DAY_TTL_S
    assert await redis.ttl(stats.TOTAL) == -1  # the running total never expires


async def test_once_counts_a_retried_job_a_single_time(redis: Redis) -> None:
    counts = stats.Counts().add(TODAY, "outcome:fix_check_run:pr_opened")
    assert await stats.apply(redis, counts, once="job-1")
    assert not await stats.apply(redis, counts, once="job-1")
    assert await stats.apply(redis, counts, once="job-2")
    (today,) = await stats.read_days(redis, [TODAY])
    assert today.by_prefix("outcome:fix_check_run:") == {"pr_opened": 2}


async def test_time_to_pr_fingerprints_and_merge(redis: Redis) -> None:
    for seconds in (30.0, 90.0, 60.0):
        await stats.add_time_to_pr(redis, seconds, now=NOW)
    await stats.add_fingerprint(redis, "v1:aa", now=NOW)
    await stats.add_fingerprint(redis, "v1:aa", now=NOW)
    await stats.add_fingerprint(redis, "v1:bb", now=NOW - 86_400)
    days = await stats.read_days(redis, stats.days_back(NOW, 2))
    assert days[1].time_to_pr == [30.0, 90.0, 60.0]
    both = stats.merge(days)
    assert both.fingerprints == {"v1:aa": 2, "v1:bb": 1}
    assert stats.median(both.time_to_pr) == 60.0
    assert stats.median([1.0, 2.0]) == 1.5
    assert stats.median([]) is None
    total = await stats.read_total(redis)
    assert total["ttp_count"] == 3
    assert total["ttp_seconds"] == 180


async def test_workers_alive_forgets_silent_workers(redis: Redis) -> None:
    await stats.heartbeat(redis, "host:1:fix", {"queue": "fix"}, now=NOW - 2 * stats.ALIVE_S)
    await stats.heartbeat(redis, "host:2:command", {"queue": "command", "running": 1}, now=NOW - 1)
    alive = await stats.workers_alive(redis, now=NOW)
    assert [w["id"] for w in alive] == ["host:2:command"]
    assert alive[0]["queue"] == "command"
    assert alive[0]["running"] == 1


async def test_github_rate_reading(redis: Redis) -> None:
    await stats.set_github_rate(redis, 4990, 5000, 1_763_703_600, now=NOW)
    assert await stats.read_github_rate(redis) == {
        "remaining": 4990,
        "limit": 5000,
        "reset": 1_763_703_600,
        "at": NOW,
    }


async def test_job_artefacts_sections_and_model_calls(redis: Redis) -> None:
    from app.artefacts import JobArtefacts

    store = JobArtefacts(redis)
    assert await store.get("job-1") == {"model_calls": []}
    await store.put("job-1", localization=[{"file": "a.py", "score": 1.0}], links={"pr": "u"})
    await store.put("job-1", links={"pr": "u2"})  # a section is replaced whole
    await store.add_model_call("job-1", {"model": "m", "dollars": 0.01})
    await store.add_model_call("job-1", {"model": "m", "dollars": 0.02})
    got = await store.get("job-1")
    assert got["localization"] == [{"file": "a.py", "score": 1.0}]
    assert got["links"] == {"pr": "u2"}
    assert [c["dollars"] for c in got["model_calls"]] == [0.01, 0.02]
    assert await store.model_calls("job-1") == got["model_calls"]
    assert await redis.ttl("autofix:jobart:job-1") > 0
