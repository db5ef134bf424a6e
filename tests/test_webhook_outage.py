"""The endpoint on a Redis that goes away, comes back, or fills up: 503 until it can store, never a loss."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from app.embedded_redis import EmbeddedRedis
from app.queue import QUEUE
from tests.conftest import _client_for
from tests.support import app_fixture, app_fixture_bytes, deliver, fixture_bytes, make_settings

CHECK = app_fixture_bytes("check_run.completed.1.json")


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A redis-server this test may stop, restart and fill (never the shared one)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_redis_stopped_gives_503_then_recovers_without_restart(own_redis: EmbeddedRedis) -> None:
    settings = make_settings(redis_url=own_redis.url)
    async for client in _client_for(settings, own_redis.url):
        assert (await deliver(client, "check_run", CHECK, delivery="before")).status_code == 202

        own_redis.stop()
        down = await deliver(client, "check_run", CHECK, delivery="during")
        assert down.status_code == 503
        assert "redeliver" in down.json()["error"]
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
        ignored = await deliver(client, "push", fixture_bytes("push.none.1.json"))
        assert ignored.status_code == 202, "deliveries that need no Redis are still answered"

        own_redis.start()  # same data dir, same socket: the app reconnects by itself
        assert (await client.get("/readyz")).status_code == 200
        payload = app_fixture("check_run.completed.1.json")
        payload["check_run"]["name"] = "after the outage"
        again = await deliver(client, "check_run", payload, delivery="during")  # GitHub's redelivery
        assert again.status_code == 202
        assert "duplicate" not in again.json()

    redis = Redis.from_url(own_redis.url)
    queued = {m.decode() for m in await redis.zrange(QUEUE, 0, -1)}
    await redis.aclose()
    assert len(queued) == 2, "the job from before the outage survived (AOF) and the redelivery was queued"


async def test_full_redis_gives_503_not_a_silent_drop(own_redis: EmbeddedRedis) -> None:
    redis = Redis.from_url(own_redis.url)
    try:
        await redis.config_set("maxmemory", "1")  # already over the limit: every write is refused
        with pytest.raises(OutOfMemoryError):  # noeviction refuses, it does not evict queued jobs
            await redis.set("probe", "x")
        settings = make_settings(redis_url=own_redis.url)
        async for client in _client_for(settings, own_redis.url):
            r = await deliver(client, "check_run", CHECK)
            assert r.status_code == 503
        assert await redis.zcard(QUEUE) == 0
    finally:
        await redis.aclose()


async def test_paused_redis_answers_503_within_the_deadline(own_redis: EmbeddedRedis) -> None:
    settings = make_settings(redis_url=own_redis.url)
    async for client in _client_for(settings, own_redis.url):
        await client.get("/readyz")  # open a pooled connection first
        pause = subprocess.run(  # noqa: ASYNC221  # must block: the app may not run meanwhile
            ["redis-cli", "-s", own_redis.url.removeprefix("unix://"), "CLIENT", "PAUSE", "9000", "ALL"],
            capture_output=True,
            check=False,
        )
        if pause.returncode != 0:
            pytest.skip("redis-cli not available to pause the server")
        r = await deliver(client, "check_run", CHECK)
        assert r.status_code == 503  # well inside GitHub's 10 s delivery timeout
