"""Per-repository flags the gate reads and people set: paused, ignored fingerprints, open bot PRs.

Kept in Redis under `autofix:repo:{repo_id}:…`, plus one global pause (`autofix:paused`) and one
per installation (`autofix:installation:{id}:paused`, set by the per-installation circuit breaker,
jobs/breakers.py). The dashboard pauses and resumes (issue 8), `/autofix ignore` adds a fingerprint
(issue 7), publishing adds an open PR and `pull_request.closed` removes it.

A pause key holds its reason (a person's pause says "1"), so the gate and the dashboard can say why.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

GLOBAL_PAUSE = "autofix:paused"
PREFIX = "autofix:repo:{repo_id}:"
INSTALLATION_PAUSE = "autofix:installation:{installation_id}:paused"
BY_HAND = "1"  # the value a pause set without a reason holds
BY_HAND_REASON = "paused by a maintainer"


class RepoState:
    def __init__(self, redis: Redis, repo_id: int, installation_id: int | None = None) -> None:
        self.redis = redis
        self.prefix = PREFIX.format(repo_id=repo_id)
        self._keys = [GLOBAL_PAUSE, self.prefix + "paused"]
        if installation_id is not None:
            self._keys.append(INSTALLATION_PAUSE.format(installation_id=installation_id))

    async def paused(self) -> bool:
        found = await self.redis.exists(*self._keys)
        return bool(found)

    async def pause_reason(self) -> str | None:
        """Why this repository is paused (the first of global, repository, installation), or None."""
        for value in await self.redis.mget(self._keys):
            if value is not None:
                text = value.decode() if isinstance(value, bytes) else str(value)
                return BY_HAND_REASON if text in (BY_HAND, "") else text
        return None

    async def set_paused(self, paused: bool, reason: str | None = None) -> None:
        if paused:
            await self.redis.set(self.prefix + "paused", reason or BY_HAND)
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


async def set_installation_paused(
    redis: Redis, installation_id: int, paused: bool, reason: str | None = None
) -> bool:
    """Pause (or resume) every repository of an installation. Returns False when it already was paused."""
    key = INSTALLATION_PAUSE.format(installation_id=installation_id)
    if not paused:
        return bool(await redis.delete(key))
    return bool(await redis.set(key, reason or BY_HAND, nx=True))
