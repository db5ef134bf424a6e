"""GitHub API calls counted, and the rate limit's last reading kept, without touching Redis per call.

Every response (the App's and the installations', errors included) passes `ApiMeter.on_response`, an
httpx event hook: it adds one to an in-process count and keeps a reference to the response's headers
among the last few, nothing more (a header lookup costs more than the rest of the hook). The worker's
heartbeat (every `stats.HEARTBEAT_S`) and its shutdown call `flush`, which writes the count to the
stats (`github_calls`) and the newest core rate-limit reading among those headers
(`stats.set_github_rate`; search and GraphQL have their own, smaller, limits that would make the
figure flap, and some error answers carry none). A flush from the hook itself, in the background,
would outlive the request that started it, and the process's Redis client with it at shutdown.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Mapping

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import stats

log = logging.getLogger("autofix.github")
KEEP_HEADERS = 8  # responses whose headers are looked at for the reading, newest first
Rate = tuple[int, int, int]  # remaining, limit, reset (epoch seconds)


def parse_rate(headers: Mapping[str, str]) -> Rate | None:
    """The core rate limit's reading from a response's headers; None without one. Pure."""
    if headers.get("x-ratelimit-resource", "core") != "core":
        return None
    try:
        return (
            int(headers["x-ratelimit-remaining"]),
            int(headers["x-ratelimit-limit"]),
            int(headers["x-ratelimit-reset"]),
        )
    except (KeyError, ValueError):
        return None


class ApiMeter:
    def __init__(self, redis: Redis, *, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.clock = redis, clock
        self.calls = 0  # not yet written
        self.headers: collections.deque[Mapping[str, str]] = collections.deque(maxlen=KEEP_HEADERS)

    async def on_response(self, response: httpx.Response) -> None:
        self.seen(response.headers)

    def seen(self, headers: Mapping[str, str]) -> None:
        """One response, counted in memory."""
        self.calls += 1
        self.headers.append(headers)

    async def flush(self) -> None:
        """Write what was counted since the last flush; on a Redis error keep it for the next one."""
        calls, headers = self.calls, list(self.headers)
        self.calls = 0
        self.headers.clear()
        rate = next(filter(None, map(parse_rate, reversed(headers))), None)
        try:
            now = self.clock()
            if calls:
                await stats.apply(self.redis, stats.Counts().add(stats.day_of(now), "github_calls", calls))
            if rate is not None:
                await stats.set_github_rate(self.redis, *rate, now=now)
        except (RedisError, OSError):
            self.calls += calls
            self.headers = collections.deque([*headers, *self.headers], maxlen=KEEP_HEADERS)
            log.warning("GitHub call counts not written", exc_info=True)

    async def aclose(self) -> None:
        """The last flush (the worker's shutdown)."""
        await self.flush()
