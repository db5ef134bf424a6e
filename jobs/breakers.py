"""Circuit breakers against bot ping-pong: too many runs on one thread, or one installation, and we stop.

Routing already drops events sent by bots, but a bot on a user account, or two bots that answer each
other through a person's command, still loop: Fabrik's quota-notice ping-pong with another review bot
ran 995 times for about $210 before anyone noticed (issue #1083). So every job or command that
reaches the gate counts, in a sliding window kept in Redis:

- per thread (an issue or pull request): more than `THREAD.limit` runs in `THREAD.window_s` opens the
  breaker for `THREAD.cooldown_s`; it closes by itself after that;
- per installation: more than `INSTALLATION.limit` in its window pauses every repository of the
  installation (app/repo_state.py, with the reason) until a maintainer resumes it, and calls the
  `on_trip` hook once (a notification) — a loop that fast is not something to wait out.

`decide_breaker` is the pure decision; `BreakerStore` keeps the windows. A run refused by an open
breaker is not counted, so a breaker that opened closes on time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from app.notify import on_breaker_trip
from app.repo_state import RepoState, set_installation_paused
from app.settings import Settings

HITS_KEY = "autofix:breaker:{scope}:hits"
OPEN_KEY = "autofix:breaker:{scope}:open"


@dataclass(frozen=True)
class Policy:
    limit: int  # runs allowed in the window; one more trips the breaker
    window_s: int
    cooldown_s: int  # 0: stays open until someone resumes (the installation's pause)
    what: str  # "thread", "installation": for the sentence


THREAD = Policy(limit=5, window_s=15 * 60, cooldown_s=60 * 60, what="thread")
INSTALLATION = Policy(limit=60, window_s=15 * 60, cooldown_s=0, what="installation")


@dataclass(frozen=True)
class Verdict:
    open: bool
    tripped: bool = False  # this run is the one that opened it
    why: str | None = None  # one sentence, for the gate's refusal


@dataclass(frozen=True)
class Trip:
    """What the notification hook is told."""

    scope: str
    installation_id: int | None
    repo_id: int
    count: int
    why: str


Notify = Callable[[Trip], Awaitable[None]]


def decide_breaker(count: int, open_for_s: float | None, policy: Policy) -> Verdict:
    """`count`: runs in the window, this one included; `open_for_s`: seconds the breaker stays open
    (None: closed; -1: until resumed)."""
    if open_for_s is not None:
        return Verdict(True, False, _why(policy, None, open_for_s))
    if count > policy.limit:
        return Verdict(True, True, _why(policy, count, policy.cooldown_s or -1))
    return Verdict(False)


def _why(policy: Policy, count: int | None, open_for_s: float) -> str:
    minutes = policy.window_s // 60
    seen = f"{count} runs" if count is not None else f"more than {policy.limit} runs"
    until = (
        "until a maintainer resumes it"
        if open_for_s < 0
        else f"for {max(1, round(open_for_s / 60))} more minutes"
    )
    return f"Circuit breaker: {seen} on this {policy.what} in {minutes} minutes; paused {until}."


def thread_scope(repo_id: int, number: int) -> str:
    return f"thread:{repo_id}:{number}"


def installation_scope(installation_id: int) -> str:
    return f"installation:{installation_id}"


class BreakerStore:
    """Sliding windows in Redis: a sorted set of run times per scope, and an `open` key with a TTL."""

    def __init__(
        self, redis: Redis, *, clock: Callable[[], float] = time.time, on_trip: Notify | None = None
    ) -> None:
        self.redis, self.clock, self.on_trip = redis, clock, on_trip

    async def record(self, scope: str, policy: Policy, run_id: str | None = None) -> Verdict:
        """Count one run in `scope` unless its breaker is open; open it when this run is one too many.
        A `run_id` (the job id) counts once however often the job is retried."""
        open_key, hits = OPEN_KEY.format(scope=scope), HITS_KEY.format(scope=scope)
        open_for = await self._open_for(open_key)
        if open_for is not None:
            return decide_breaker(0, open_for, policy)
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(hits, "-inf", now - policy.window_s)
            pipe.zadd(hits, {run_id or f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
            pipe.zcard(hits)
            pipe.expire(hits, policy.window_s + 60)
            count = int((await pipe.execute())[2])
        verdict = decide_breaker(count, None, policy)
        if verdict.tripped:
            px = policy.cooldown_s * 1000 if policy.cooldown_s else None
            # one winner among workers that saw the same count: only it reports the trip
            won = bool(await self.redis.set(open_key, verdict.why or "", nx=True, px=px))
            return Verdict(True, won, verdict.why)
        return verdict

    async def _open_for(self, open_key: str) -> float | None:
        ttl_ms = int(await self.redis.pttl(open_key))
        if ttl_ms == -2:  # no such key: closed
            return None
        return -1.0 if ttl_ms == -1 else ttl_ms / 1000

    async def reset(self, scope: str) -> None:
        """Close a breaker by hand (the dashboard's "resume")."""
        await self.redis.delete(OPEN_KEY.format(scope=scope), HITS_KEY.format(scope=scope))


async def check_breakers(
    store: BreakerStore,
    *,
    repo_id: int,
    number: int | None,
    installation_id: int | None,
    job_id: str | None = None,
) -> str | None:
    """For the gate's facts: count this run on its thread and its installation. Returns why a breaker
    is open (GateFacts.circuit_open), or None. A tripped installation breaker pauses its repositories
    (and this one, so the dashboard shows it at once) and calls `store.on_trip` once."""
    if installation_id is not None:
        verdict = await store.record(installation_scope(installation_id), INSTALLATION, job_id)
        if verdict.open:
            if verdict.tripped:
                await _pause_installation(store, repo_id, installation_id, verdict.why or "")
            return verdict.why
    if number is not None:
        verdict = await store.record(thread_scope(repo_id, number), THREAD, job_id)
        if verdict.tripped and store.on_trip is not None:
            await store.on_trip(Trip("thread", installation_id, repo_id, THREAD.limit + 1, verdict.why or ""))
        if verdict.open:
            return verdict.why
    return None


async def _pause_installation(store: BreakerStore, repo_id: int, installation_id: int, why: str) -> None:
    await set_installation_paused(store.redis, installation_id, True, why)
    await RepoState(store.redis, repo_id).set_paused(True, why)
    if store.on_trip is not None:
        await store.on_trip(Trip("installation", installation_id, repo_id, INSTALLATION.limit + 1, why))


async def resume_installation(redis: Redis, installation_id: int) -> None:
    """A maintainer's "resume" after an installation's breaker tripped: lift the pause, close the breaker.
    (Repositories the trip paused by name are resumed one by one, as any paused repository.)"""
    await set_installation_paused(redis, installation_id, False)
    await BreakerStore(redis).reset(installation_scope(installation_id))


async def count_run(
    redis: Redis, settings: Settings, *, repo: str, repo_id: int, number: int | None,
    installation_id: int | None, job_id: str,
) -> str | None:  # fmt: skip
    """A job's run counted on its thread and installation, with a trip announced to the operators:
    GateFacts.circuit_open for the gate (None: closed)."""
    store = BreakerStore(redis, on_trip=on_breaker_trip(settings, repo))
    return await check_breakers(
        store, repo_id=repo_id, number=number, installation_id=installation_id, job_id=job_id
    )
