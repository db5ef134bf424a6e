"""A lock per (repository, fingerprint), so two jobs for the same failure (three matrix jobs, a
redelivery racing a retry) do not both propose and publish: the second waits for the first, then
finds its PR and stops.

`SET NX PX` with the holder's job id; released only by its holder (compare-and-delete in Lua). Each
acquisition also takes a fencing number from a counter, recorded with the job, so a holder whose
lock expired while it was stalled can be told apart from the one that took over (issue 9).
"""

from __future__ import annotations

from redis.asyncio import Redis

KEY = "autofix:lock:{repo_id}:{fingerprint}"
FENCE = "autofix:lock:fence"
TTL_MS = 60 * 60 * 1000  # longer than any job; the job timeout (arq) ends a job well before
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class FingerprintLock:
    def __init__(self, redis: Redis, repo_id: int, fingerprint: str, holder: str) -> None:
        self.redis = redis
        self.key = KEY.format(repo_id=repo_id, fingerprint=fingerprint)
        self.holder = holder
        self.fence: int | None = None

    async def acquire(self) -> bool:
        """Take the lock (or find that this job already holds it, on a retry)."""
        taken = await self.redis.set(self.key, self.holder, nx=True, px=TTL_MS)
        if not taken:
            current = await self.redis.get(self.key)
            current_text = current.decode() if isinstance(current, bytes) else current
            if current_text != self.holder:
                return False
        self.fence = int(await self.redis.incr(FENCE))
        return True

    async def holder_now(self) -> str | None:
        current = await self.redis.get(self.key)
        return current.decode() if isinstance(current, bytes) else current

    async def release(self) -> bool:
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.holder))  # type: ignore[misc]
