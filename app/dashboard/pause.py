"""Pause and resume, per repository and globally.

Paused, the gate (jobs/gate.py) still receives every event and records the job, skipped with the
reason code "paused", its request kept in the job record. Resuming picks those jobs up again: each
job of the repo skipped as paused since the pause is enqueued anew through the webhook's own
enqueue path (app.queue), under a new deterministic id `{old id}:resumed:{pause time}`, so a second
resume of the same pause enqueues nothing twice.

The pause time is kept here (`autofix:dashboard:paused_at`, field repo id or "*"); a pause set by
other means has none, and resume then looks back RESUME_LOOKBACK_S.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from app.audit import append_audit
from app.dashboard.reads import fetch_recent_records
from app.job_records import JobRecord
from app.queue import DeliveryQueue
from app.repo_state import GLOBAL_PAUSE, RepoState, set_global_pause
from app.routing import JobRequest
from jobs import names

PAUSED_AT = "autofix:dashboard:paused_at"
RESUMED = "autofix:dashboard:resumed"  # job id -> the id it was enqueued again under
RESUMED_TTL_S = 7 * 86_400
ALL = "*"
RESUMABLE = (names.FIX_CHECK_RUN, names.FIX_ISSUE, names.RUN_COMMAND)
RESUME_LOOKBACK_S = 3 * 86_400
RESUME_SCAN = 10_000


def skipped_as_paused(record: JobRecord) -> bool:
    gate = record.phase_named("gate")
    return (
        record.outcome == "skipped"
        and gate is not None
        and gate.outcome == "paused"
        and record.kind in RESUMABLE
    )


def record_repo_id(record: JobRecord) -> int | None:
    value = record.request.get("repo_id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def resumed_id(job_id: str, paused_at: float) -> str:
    return f"{job_id}:resumed:{int(paused_at)}"


def plan_resume(
    records: list[JobRecord],
    paused_at: float,
    repo_id: int | None,
    still_paused: set[int],
    resumed: frozenset[str] = frozenset(),
) -> list[JobRequest]:
    """The jobs to enqueue again: skipped as paused since `paused_at`, of `repo_id` (None: any repo not
    in `still_paused`), not `resumed` already, oldest first, each once."""
    out: dict[str, JobRequest] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        rid = record_repo_id(record)
        if record.updated_at < paused_at or not skipped_as_paused(record) or record.job_id in resumed:
            continue
        if (repo_id is not None and rid != repo_id) or (repo_id is None and rid in still_paused):
            continue
        out.setdefault(
            record.job_id, JobRequest(record.kind, resumed_id(record.job_id, paused_at), record.request)
        )
    return list(out.values())


@dataclass(frozen=True)
class Resumed:
    paused_at: float
    job_ids: list[str]  # enqueued now (jobs already queued or done under that id are left alone)


def _scope(repo_id: int | None, repo: str | None) -> str:
    return "all" if repo_id is None else repo or f"repository {repo_id}"


async def fetch_paused_repos(redis: Redis) -> set[int]:
    """Repos paused on their own (the global pause aside), from the dashboard's pause times and keys."""
    fields = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(PAUSED_AT))
    ids = {int(k) for k in fields if k.decode().isdigit()}
    return {i for i in ids if await redis.exists(RepoState(redis, i).prefix + "paused")}


async def pause(redis: Redis, repo_id: int | None, *, login: str, repo: str | None, now: float) -> None:
    """Pause one repo (or all with None) and say who did it in the audit trail."""
    if repo_id is None:
        await set_global_pause(redis, True)
    else:
        await RepoState(redis, repo_id).set_paused(True)
    await cast(
        "Awaitable[int]", redis.hsetnx(PAUSED_AT, str(repo_id) if repo_id is not None else ALL, repr(now))
    )
    await append_audit(
        redis, "dashboard.pause", user=login, repo_id=repo_id, repo=repo, scope=_scope(repo_id, repo)
    )


async def _enqueue(queue: DeliveryQueue, jobs: list[JobRequest], field: str, paused_at: float) -> list[str]:
    enqueued: list[str] = []
    for queue_name in sorted({names.queue_for(j.function) for j in jobs}):
        batch = [j for j in jobs if names.queue_for(j.function) == queue_name]
        result = await queue.enqueue(f"dashboard-resume:{field}:{int(paused_at)}:{queue_name}", batch)
        if not result.duplicate:
            enqueued += [i for i in result.job_ids if i not in result.existing]
    return enqueued


async def _resumed_already(redis: Redis, records: list[JobRecord]) -> frozenset[str]:
    ids = [r.job_id for r in records if skipped_as_paused(r)]
    if not ids:
        return frozenset()
    found = await cast("Awaitable[list[bytes | None]]", redis.hmget(RESUMED, ids))
    return frozenset(i for i, f in zip(ids, found, strict=True) if f is not None)


async def _remember(redis: Redis, jobs: list[JobRequest]) -> None:
    if jobs:
        mapping = {j.job_id.rsplit(":resumed:", 1)[0]: j.job_id for j in jobs}
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(RESUMED, mapping=mapping)
            pipe.expire(RESUMED, RESUMED_TTL_S)
            await pipe.execute()


async def _plan(redis: Redis, repo_id: int | None, now: float) -> tuple[float, list[JobRequest], list[str]]:
    """When the pause began, the jobs to enqueue again, and the pause-time fields that are done with.

    A repo resumed during a global pause keeps its pause time, so the global resume still picks up
    what that repo skipped before the global pause began."""
    raw = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(PAUSED_AT))
    times = {k.decode(): float(v) for k, v in raw.items()}
    field = str(repo_id) if repo_id is not None else ALL
    paused_at = times.get(field, now - RESUME_LOOKBACK_S)
    if repo_id is not None:
        if await redis.exists(GLOBAL_PAUSE):
            return paused_at, [], []
        records = await fetch_recent_records(redis, RESUME_SCAN, since=paused_at)
        done = await _resumed_already(redis, records)
        return paused_at, plan_resume(records, paused_at, repo_id, set(), done), [field]
    still = await fetch_paused_repos(redis)
    leftover = {int(k): t for k, t in times.items() if k.isdigit() and int(k) not in still}
    since = min([paused_at, *leftover.values()])
    records = await fetch_recent_records(redis, RESUME_SCAN, since=since)
    done = await _resumed_already(redis, records)
    jobs = {j.job_id.rsplit(":resumed:", 1)[0]: j for j in plan_resume(records, paused_at, None, still, done)}
    for rid, at in leftover.items():
        for j in plan_resume(records, min(at, paused_at), rid, set(), done):
            jobs[j.job_id.rsplit(":resumed:", 1)[0]] = j  # the earlier pause time names it
    return paused_at, list(jobs.values()), [ALL, *map(str, leftover)]


async def resume(
    redis: Redis, queue: DeliveryQueue, repo_id: int | None, *, login: str, repo: str | None, now: float
) -> Resumed:
    """Resume one repo (or all with None), enqueue again what the pause skipped, and audit it."""
    paused_at, jobs, done = await _plan(redis, repo_id, now)
    if repo_id is None:
        await set_global_pause(redis, False)
    else:
        await RepoState(redis, repo_id).set_paused(False)
    enqueued = await _enqueue(queue, jobs, str(repo_id) if repo_id is not None else ALL, paused_at)
    await _remember(redis, jobs)
    if done:
        await cast("Awaitable[int]", redis.hdel(PAUSED_AT, *done))
    scope = _scope(repo_id, repo)
    await append_audit(redis, "dashboard.resume", user=login, repo_id=repo_id, repo=repo, scope=scope,
                       paused_at=paused_at, resumed=enqueued)  # fmt: skip
    return Resumed(paused_at, enqueued)
