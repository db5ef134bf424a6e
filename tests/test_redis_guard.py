"""The Redis guard: eviction refused, no append-only file a warning, on a Redis each test starts itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.embedded_redis import EmbeddedRedis
from app.redis_guard import (
    RedisGuardError,
    RedisProblem,
    check_redis,
    decide_redis_problems,
    ensure_redis_keeps_data,
    redacted_url,
)

SAFE = {"maxmemory-policy": "noeviction", "appendonly": "yes", "save": ""}


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[Redis]:
    """A redis-server this test may reconfigure (CONFIG SET never touches the shared one)."""
    server = EmbeddedRedis(tmp_path / "redis")
    client = Redis.from_url(server.start())
    try:
        yield client
    finally:
        await client.aclose()
        server.stop()


@pytest.mark.parametrize(
    ("config", "volatile_ok", "expected"),
    [
        (SAFE, False, []),
        (SAFE | {"maxmemory-policy": "allkeys-lru"}, False, [True]),
        (SAFE | {"maxmemory-policy": "volatile-ttl"}, True, [True]),  # jobs carry TTLs: evictable too
        (SAFE | {"appendonly": "no"}, False, [False]),
        (SAFE | {"appendonly": "no"}, True, []),
        (SAFE | {"appendonly": "no", "maxmemory-policy": "allkeys-random"}, False, [True, False]),
        (None, False, [False]),
    ],
)
def test_decide(config: dict[str, str] | None, volatile_ok: bool, expected: list[bool]) -> None:
    problems = decide_redis_problems(config, volatile_ok=volatile_ok)
    assert [p.fatal for p in problems] == expected


def test_the_appendonly_warning_says_whether_snapshots_exist() -> None:
    [none] = decide_redis_problems(SAFE | {"appendonly": "no"})
    [rdb] = decide_redis_problems(SAFE | {"appendonly": "no", "save": "3600 1"})
    assert "nothing is on disk" in none.message
    assert "snapshots alone lose minutes" in rdb.message
    assert "AUTOFIX_REDIS_VOLATILE=true" in rdb.message


async def test_a_persistent_noeviction_redis_has_no_problem(own_redis: Redis) -> None:
    assert await check_redis(own_redis) == []  # the embedded Redis: AOF everysec, noeviction


async def test_an_evicting_redis_is_refused_at_start_up(own_redis: Redis) -> None:
    await own_redis.config_set("maxmemory-policy", "allkeys-lru")
    url = "redis://:s3cret-pass@10.0.0.5:6380/0"
    with pytest.raises(RedisGuardError) as refused:
        await ensure_redis_keeps_data(own_redis, url)
    message = str(refused.value)
    assert message == (
        "autofix: refusing to use the Redis at redis://:***@10.0.0.5:6380/0: maxmemory-policy is "
        "allkeys-lru: Redis may evict queued jobs; set `maxmemory-policy noeviction`"
    )
    assert "s3cret" not in message


async def test_appendonly_off_is_a_warning_unless_declared_volatile(own_redis: Redis) -> None:
    await own_redis.config_set("appendonly", "no")
    warnings = await ensure_redis_keeps_data(own_redis, "unix:///tmp/redis.sock")
    assert len(warnings) == 1
    assert warnings[0].startswith("appendonly is off (nothing is on disk): a restart loses queued jobs")
    assert await ensure_redis_keeps_data(own_redis, "unix:///x", volatile_ok=True) == []
    problems = await check_redis(own_redis)
    assert problems == [RedisProblem(False, warnings[0])]


async def test_a_redis_without_config_is_a_warning_not_a_refusal(own_redis: Redis) -> None:
    await own_redis.execute_command("ACL", "SETUSER", "default", "-config")
    [problem] = await check_redis(own_redis)
    assert not problem.fatal
    assert problem.message.startswith("CONFIG is disabled")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("rediss://user:pw@h/2", "rediss://user:***@h/2"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
