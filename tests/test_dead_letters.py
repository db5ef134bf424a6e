"""Checklist E7: a poison job stops and leaves a visible dead-letter record; other jobs are unaffected.
Real arq workers on a real Redis."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from redis.asyncio import Redis

from app.audit import read_audit
from app.deadletters import add_dead_letter, dead_letters
from app.job_records import JobStore
from app.queue import deserialize, serialize
from app.settings import Settings
from jobs.github_outcomes import DEAD_AFTER_TRIES
from jobs.worker import build_worker, redis_settings

RESULT = "arq:result:"


async def poison(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    store = JobStore(ctx["redis"])
    await store.start(ctx["job_id"], "poison", "o/r", request)
    raise ValueError("this payload always breaks the job")


async def healthy(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    return {"ok": request["n"]}


async def run_burst(settings: Settings, redis_url: str, jobs: list[tuple[str, str, dict[str, Any]]]) -> None:
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    for function, job_id, request in jobs:
        await pool.enqueue_job(function, request, _job_id=job_id)
    await pool.aclose()
    functions = {"poison": poison, "healthy": healthy}
    worker = build_worker(settings, redis_url, burst=True, handle_signals=False, functions=functions)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def test_E7_a_poison_job_is_buried_and_the_others_run(
    app_settings: Settings, redis: Redis, redis_url: str
) -> None:
    jobs = [("healthy", "good-1", {"n": 1}), ("poison", "bad", {}), ("healthy", "good-2", {"n": 2})]
    await run_burst(app_settings, redis_url, jobs)

    assert deserialize(await redis.get(RESULT + "good-1"))["r"] == {"ok": 1}
    assert deserialize(await redis.get(RESULT + "good-2"))["r"] == {"ok": 2}
    bad = deserialize(await redis.get(RESULT + "bad"))
    assert bad["s"] is False  # failed once: arq does not retry a plain exception
    [letter] = await dead_letters(redis)
    assert letter["job_id"] == "bad"
    assert letter["function"] == "poison"
    assert letter["error"] == "ValueError: this payload always breaks the job"
    [dead] = [e for e in await read_audit(redis) if e["kind"] == "job.dead"]
    assert dead["job_id"] == "bad"
    record = await JobStore(redis).get("bad")
    assert record is not None
    assert (record.status, record.outcome) == ("failed", "dead")


async def test_a_rate_limit_retry_at_the_last_try_is_buried_not_requeued(redis: Redis) -> None:
    import time

    from app.github.errors import RateLimited
    from jobs.github_outcomes import JobFailed, github_outcomes

    async def limited(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        raise RateLimited("secondary rate limit: slow down", time.time() + 60, 429)

    ctx = {"redis": redis, "job_id": "late", "job_try": DEAD_AFTER_TRIES}
    try:
        await github_outcomes(limited)(ctx, {})
    except JobFailed:
        pass
    else:
        raise AssertionError("the last try must fail, not ask for a retry arq would never run")
    assert [d["job_id"] for d in await dead_letters(redis)] == ["late"]


async def test_dead_letters_newest_first_and_bounded(redis: Redis) -> None:
    for i in range(3):
        await add_dead_letter(redis, f"j{i}", "f", 1, "x" * 5000, now=1000.0 + i)
    letters = await dead_letters(redis, limit=2)
    assert [d["job_id"] for d in letters] == ["j2", "j1"]
    assert len(letters[0]["error"]) == 2000
