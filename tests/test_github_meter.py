"""GitHub calls counted and the rate limit's last reading kept: against the local GitHub (real HTTP),
and the batching that keeps Redis off each request's path (Redis's own command counts say so)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app import stats
from app.github.client import GitHubApp
from app.github.contents import read_file
from app.github.errors import NotFound
from app.github.meter import ApiMeter, parse_rate
from app.settings import Settings
from tests.support import OWNER, LocalGitHub


async def evals(redis: Redis) -> int:
    info: dict[str, Any] = await redis.info("commandstats")
    return int(info.get("cmdstat_eval", {}).get("calls", 0))


@pytest.mark.parametrize(
    ("headers", "reading"),
    [
        ({"x-ratelimit-remaining": "4990", "x-ratelimit-limit": "5000", "x-ratelimit-reset": "1763700000"},
         (4990, 5000, 1763700000)),
        ({"x-ratelimit-remaining": "29", "x-ratelimit-limit": "30", "x-ratelimit-reset": "1",
          "x-ratelimit-resource": "search"}, None),  # search's own small limit would make the figure flap
        ({"x-ratelimit-remaining": "x", "x-ratelimit-limit": "30", "x-ratelimit-reset": "1"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_core_rate_limit_is_read_from_the_headers(
    headers: dict[str, str], reading: tuple[int, int, int] | None
) -> None:
    assert parse_rate(httpx.Headers(headers)) == reading


async def test_every_response_is_counted_and_the_last_reading_kept(
    gh: LocalGitHub, app_settings: Settings, redis: Redis
) -> None:
    gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    app = GitHubApp(app_settings.model_copy(update={"github_api_url": gh.url}), redis)
    inst = app.installation(gh.installation_id)
    before = len(gh.state.requests)
    assert await read_file(inst, OWNER, "demo", "a.py") == "x = 1\n"
    assert await read_file(inst, OWNER, "demo", "missing.py") is None  # a 404 is a response too
    with pytest.raises(NotFound):
        await inst.read(lambda g: g.rest.repos.async_get(OWNER, "missing"))
    await app.meter.aclose()
    made = len(gh.state.requests) - before  # the token's minting included
    assert made >= 4
    total = await stats.read_total(redis)
    assert total["github_calls"] == made
    bucket = gh.state.rate_limits[f"installation:{gh.installation_id}"]  # the last call's
    rate = await stats.read_github_rate(redis)
    assert (rate["remaining"], rate["limit"], rate["reset"]) == (
        bucket.limit - bucket.used,
        bucket.limit,
        bucket.reset,
    )


async def test_responses_never_wait_on_redis_a_flush_writes_them_in_one_go(redis: Redis) -> None:
    meter = ApiMeter(redis)
    headers = httpx.Headers(
        {"x-ratelimit-remaining": "10", "x-ratelimit-limit": "5000", "x-ratelimit-reset": "9"}
    )
    start = await evals(redis)
    for _ in range(100):
        meter.seen(headers)
    assert meter.calls == 100
    assert await evals(redis) == start  # no Redis command for any response
    await meter.flush()  # the heartbeat's
    assert await evals(redis) - start == 1
    assert (await stats.read_total(redis))["github_calls"] == 100
    assert (await stats.read_github_rate(redis))["remaining"] == 10
    await meter.flush()  # nothing new: nothing written
    assert await evals(redis) - start == 1
    assert meter.calls == 0


async def test_a_failed_write_keeps_the_counts_for_the_next(redis_url: str) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    meter = ApiMeter(dead)
    headers = {"x-ratelimit-remaining": "1", "x-ratelimit-limit": "2", "x-ratelimit-reset": "3"}
    meter.calls = 5
    meter.headers.extend([headers, {}])  # the newest response carried no reading: the one before counts
    await meter.flush()
    assert (meter.calls, list(meter.headers)) == (5, [headers, {}])
    await dead.aclose()
    meter.redis = Redis.from_url(redis_url)
    await meter.redis.flushdb()
    await meter.flush()
    assert (await stats.read_total(meter.redis))["github_calls"] == 5
    assert (await stats.read_github_rate(meter.redis))["remaining"] == 1
    await meter.redis.aclose()
