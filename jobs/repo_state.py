"""Per-repository flags the gate reads and people set: paused, ignored fingerprints, open bot PRs.

Kept in Redis under `autofix:repo:{repo_id}:…`, plus one global pause (`autofix:paused`). The
dashboard pauses and resumes (issue 8), `/autofix ignore` adds a fingerprint (issue 7), publishing
adds an open PR and `pull_request.closed` removes it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

GLOBAL_PAUSE = "autofix:paused"
PREFIX = "autofix:repo:{repo_id}:"


class RepoState:
    def __init__(self, redis: Redis, repo_id: int) -> None:
        self.redis = redis
        self.prefix = PREFIX.format(repo_id=repo_id)

    async def paused(self) -> bool:
        found = await self.redis.exists(GLOBAL_PAUSE, self.prefix + "paused")
        return bool(found)

    async def set_paused(self, paused: bool) -> None:
        if paused:
            await self.redis.set(self.prefix + "paused", "1")
        else:
            await self.redis.delete(self.prefix + "paused")

    async def ignore(self, fingerprint: str) -> None:
        await cast("Awaitable[int]", self.redis.sadd(self.prefix + "ignored", fingerprint))

    async def is_ignored(self, fingerprint: str) -> bool:
        return bool(await cast("Awaitable[int]", self.redis.sismember(self.prefix + "ignored", fingerprint)))

    async def add_open_pr(self, number: int) -> None:
        await cast("Awaitable[int]", self.redis.sadd(self.prefix + "open_prs", str(number)))

    async def remove_open_pr(self, number: int) -> None:
        await cast("Awaitable[int]", self.redis.srem(self.prefix + "open_prs", str(number)))

    async def open_prs(self) -> int:
        return int(await cast("Awaitable[int]", self.redis.scard(self.prefix + "open_prs")))


async def set_global_pause(redis: Redis, paused: bool) -> None:
    if paused:
        await redis.set(GLOBAL_PAUSE, "1")
    else:
        await redis.delete(GLOBAL_PAUSE)
