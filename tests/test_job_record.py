"""The job record on a real Redis: phases with timings, failures, retries, and side effects run once."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from app.job_records import EVENTS, JobStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_phases_are_recorded_with_outcomes_and_timings(redis: Redis) -> None:
    clock = Clock()
    store = JobStore(redis, clock=clock)
    record = await store.start("check:1:abc:test", "fix_check_run", "octo-org/app", {"head_sha": "abc"})
    async with store.phase(record, "evidence") as p:
        clock.now += 1.5
        p.outcome = "report"
        p.detail["failing_tests"] = ["tests/test_a.py::test_x"]
    await store.skip(record, "reproduce", "not_needed")
    await store.finish(record, "skipped", "Budget reached.")
    saved = await store.get("check:1:abc:test")
    assert saved is not None
    assert [(p.name, p.status, p.outcome) for p in saved.phases] == [
        ("evidence", "done", "report"),
        ("reproduce", "skipped", "not_needed"),
    ]
    assert saved.phases[0].seconds == 1.5
    assert saved.phases[0].detail == {"failing_tests": ["tests/test_a.py::test_x"]}
    assert (saved.status, saved.outcome, saved.reason) == ("done", "skipped", "Budget reached.")
    assert [r.job_id for r in await store.recent()] == ["check:1:abc:test"]


async def test_a_phase_that_raises_is_failed_with_the_error_and_the_error_goes_on(redis: Redis) -> None:
    store = JobStore(redis)
    record = await store.start("j", "fix_check_run", "o/r", {})
    with pytest.raises(RuntimeError, match="boom"):
        async with store.phase(record, "gate"):
            raise RuntimeError("boom")
    saved = await store.get("j")
    assert saved is not None
    assert (saved.phases[0].status, saved.phases[0].detail["error"]) == ("failed", "RuntimeError: boom")


async def test_a_retry_counts_its_try_and_resumes_a_phase_left_running(redis: Redis) -> None:
    store = JobStore(redis)
    record = await store.start("j", "fix_check_run", "o/r", {})
    cm = store.phase(record, "publish")
    await cm.__aenter__()  # the worker dies here: the phase stays "running"
    retried = await store.start("j", "fix_check_run", "o/r", {})
    assert retried.tries == 2
    async with store.phase(retried, "publish") as p:
        p.outcome = "pr_opened"
    (publish,) = retried.phases
    assert (publish.status, publish.tries, publish.outcome) == ("done", 2, "pr_opened")


async def test_side_effects_run_once_per_job_even_across_retries(redis: Redis) -> None:
    store = JobStore(redis)
    calls: list[str] = []

    async def open_pr() -> dict[str, int]:
        calls.append("open")
        return {"number": 7}

    record = await store.start("j", "fix_check_run", "o/r", {})
    assert await store.once(record, "pr", open_pr) == {"number": 7}
    retried = await store.start("j", "fix_check_run", "o/r", {})
    assert await store.once(retried, "pr", open_pr) == {"number": 7}
    assert calls == ["open"]


async def test_unknown_phases_are_refused(redis: Redis) -> None:
    store = JobStore(redis)
    record = await store.start("j", "fix_check_run", "o/r", {})
    with pytest.raises(ValueError, match="unknown phase 'deploy'"):
        async with store.phase(record, "deploy"):
            pass


async def test_every_change_is_published_for_live_views(redis: Redis) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(EVENTS)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    store = JobStore(redis)
    await store.start("j", "fix_issue", "o/r", {})
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None
    assert json.loads(message["data"]) == {"job_id": "j", "status": "running"}
    await pubsub.aclose()
