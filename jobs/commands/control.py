"""The Redis flags commands leave for the fix jobs: stop, and a raised budget, per thread.

`/autofix stop` sets a flag on the thread (and on each of its running jobs); the fix jobs ask
`stop_requested` at every phase boundary and end there (outcome "stopped"): no PR, no comment. New
jobs for a stopped thread end at their first phase, until `/autofix retry` clears the flag.
`/autofix budget` keeps the thread's per-attempt dollar cap; every fix attempt of the thread (label,
check or command) reads it when it reads its config (`fetch_raised_cap`).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

STOP_THREAD = "autofix:stop:{repo_id}:{number}"
STOP_JOB = "autofix:stop:job:{job_id}"
BUDGET = "autofix:cmdbudget:{repo_id}:{number}"
REFUSED = "autofix:cmdrefused:{repo_id}:{number}:{login}"
STOP_TTL_S = 90 * 86_400
JOB_STOP_TTL_S = 2 * 86_400
REFUSAL_EVERY_S = 3600  # one refusal reply per user and thread per hour
STOPPED = "A maintainer stopped this with `/autofix stop`."


def request_numbers(request: dict[str, Any]) -> list[int]:
    numbers = [n for n in request.get("pull_requests") or [] if isinstance(n, int)]
    numbers += [n for n in request.get("threads") or [] if isinstance(n, int)]
    if isinstance(request.get("issue_number"), int):
        numbers.append(int(request["issue_number"]))
    return numbers


async def stop_thread(redis: Redis, repo_id: int, numbers: list[int], job_ids: list[str]) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for n in numbers:
            pipe.set(STOP_THREAD.format(repo_id=repo_id, number=n), "1", ex=STOP_TTL_S)
        for job_id in job_ids:
            pipe.set(STOP_JOB.format(job_id=job_id), "1", ex=JOB_STOP_TTL_S)
        await pipe.execute()


async def resume_thread(redis: Redis, repo_id: int, numbers: list[int]) -> None:
    if numbers:
        await redis.delete(*(STOP_THREAD.format(repo_id=repo_id, number=n) for n in numbers))


async def is_stopped(redis: Redis, repo_id: int, numbers: list[int]) -> bool:
    keys = [STOP_THREAD.format(repo_id=repo_id, number=n) for n in numbers]
    return bool(keys) and bool(await redis.exists(*keys))


async def stop_requested(redis: Redis, job_id: str, request: dict[str, Any]) -> bool:
    """Was this job, or a thread it belongs to, stopped? The fix jobs ask at every phase boundary."""
    keys = [STOP_JOB.format(job_id=job_id)]
    repo_id = request.get("repo_id")
    if isinstance(repo_id, int):
        keys += [STOP_THREAD.format(repo_id=repo_id, number=n) for n in request_numbers(request)]
    return bool(await redis.exists(*keys))


async def set_thread_budget(redis: Redis, repo_id: int, number: int, dollars: float) -> None:
    await redis.set(BUDGET.format(repo_id=repo_id, number=number), repr(dollars), ex=STOP_TTL_S)


async def thread_budget(redis: Redis, repo_id: int, number: int) -> float | None:
    raw = await redis.get(BUDGET.format(repo_id=repo_id, number=number))
    return float(raw) if raw else None


async def fetch_raised_cap(redis: Redis, request: dict[str, Any]) -> float | None:
    """The highest cap raised with `/autofix budget` on a thread this attempt belongs to (the issue,
    the failing PR, the bot PR it updates), or None."""
    repo_id = request.get("repo_id")
    if not isinstance(repo_id, int):
        return None
    numbers = set(request_numbers(request))
    if isinstance(request.get("update_pr"), int):
        numbers.add(int(request["update_pr"]))
    if not numbers:
        return None
    raw = await redis.mget([BUDGET.format(repo_id=repo_id, number=n) for n in sorted(numbers)])
    caps = [float(v) for v in raw if v]
    return max(caps, default=None)


async def first_refusal(redis: Redis, repo_id: int, number: int, login: str, *, job_id: str) -> bool:
    """True the first time in an hour that `login` is refused on this thread (then: reply once), and
    again for a retry of that same job, which may have died before its reply went out."""
    key = REFUSED.format(repo_id=repo_id, number=number, login=login.lower())
    if await redis.set(key, job_id, nx=True, ex=REFUSAL_EVERY_S):
        return True
    held = await redis.get(key)
    return (held.decode() if isinstance(held, bytes) else held) == job_id
