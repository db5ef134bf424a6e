"""Real arq workers on a real Redis beat while they run, say which queue they serve and how many jobs
they are running, and leave the set of live workers when they stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from arq import create_pool
from redis.asyncio import Redis

from app import stats
from app.queue import deserialize, serialize
from app.settings import Settings
from jobs import names
from jobs.worker import build_worker, redis_settings, run_workers, version

BEAT_S = 0.05


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll Redis (what the dashboard sees) until `check` holds, for up to 10 s."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within 10 s")


async def test_workers_beat_while_running_and_leave_when_stopped(
    redis: Redis, settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "HEARTBEAT_S", BEAT_S)
    release = asyncio.Event()

    async def slow(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {}

    fix = build_worker(settings, redis_url, handle_signals=False, functions={"slow": slow})
    command = build_worker(settings, redis_url, handle_signals=False, queue_name=names.COMMAND_QUEUE)
    running = asyncio.ensure_future(run_workers([fix, command]))

    async def alive() -> list[dict[str, Any]]:
        return sorted(await stats.workers_alive(redis), key=lambda w: str(w["queue"]))

    async def both_beat() -> bool:
        return len(await alive()) == 2

    await until(both_beat)
    beats = await alive()
    assert [w["queue"] for w in beats] == ["command", "fix"]
    for w in beats:
        assert (w["host"], w["pid"], w["version"], w["running"]) == (
            socket.gethostname(),
            os.getpid(),
            version(),
            0,
        )
        assert w["started_at"] <= w["at"]
    assert len({w["id"] for w in beats}) == 2

    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job("slow", {}, _job_id="slow-1")
    await pool.aclose()

    async def fix_is_busy() -> bool:
        return any(w["queue"] == "fix" and w["running"] == 1 for w in await alive())

    await until(fix_is_busy)
    release.set()

    async def fix_is_idle() -> bool:
        return any(w["queue"] == "fix" and w["running"] == 0 for w in await alive())

    await until(fix_is_idle)
    fix.handle_sig(signal.SIGTERM)  # what the signal handler does: run_workers then closes both
    await asyncio.wait_for(running, 10)
    assert await stats.workers_alive(redis) == []
    assert await redis.zcard(stats.WORKERS) == 0


async def test_a_worker_keeps_beating_through_a_redis_error(
    redis: Redis, settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "HEARTBEAT_S", BEAT_S)
    failures = 0
    real = stats.heartbeat

    async def flaky(*args: Any, **kwargs: Any) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise ConnectionError("Redis restarting")
        await real(*args, **kwargs)

    monkeypatch.setattr(stats, "heartbeat", flaky)
    worker = build_worker(settings, redis_url, handle_signals=False)
    running = asyncio.ensure_future(run_workers([worker]))

    async def beat_arrived() -> bool:
        return len(await stats.workers_alive(redis)) == 1

    await until(beat_arrived)
    assert failures == 2
    worker.handle_sig(signal.SIGTERM)
    await asyncio.wait_for(running, 10)
