"""Reconciliation: what GitHub sent or shows that never became a job, found and put right.

GitHub does not redeliver a failed webhook by itself, and a Redis that lost data loses accepted
jobs with it. So an arq cron job, on one worker at a time (a Redis lock with a TTL), every few
minutes:

1. lists the App's webhook deliveries of the last 3 days (GitHub keeps no more) and redelivers each
   failed one (status ≥ 400, or no answer) whose GUID never succeeded later. Each failed attempt is
   asked for once, and each GUID at most `MAX_REDELIVERIES` times, remembered in Redis, so a
   delivery we answer 400 is not sent again every run for 3 days;
2. cross-checks GitHub itself, for a bounded number of installation repositories: failed check runs
   at the head of the default branch completed in the last `CHECK_WINDOW`, and open issues carrying
   AUTOFIX_LABEL, that have no job. Those are routed exactly as a webhook would be (app.routing), so
   they get the same deterministic job ids, and enqueued through the same DeliveryQueue: a job that
   is queued, running, or already ran (its job record) is never run again.

Both halves only ever ask for a job the webhook path would have created; the gate decides the rest.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from arq.cron import CronJob, cron
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from app.github.client import GitHubApp
from app.github.deliveries import RETENTION, Delivery, list_failed_deliveries, redeliver
from app.github.errors import GitHubError
from app.github.rest import Json, body, fetch_pages, request, segment
from app.job_records import INDEX, KEY
from app.payloads import MalformedPayload
from app.pipelined_redis import PipelinedRedis
from app.queue import JOB_PREFIX, QUEUE, RESULT_PREFIX, DeliveryQueue
from app.routing import FAILED_CONCLUSIONS, JobRequest, route
from app.settings import Settings

log = logging.getLogger("autofix.reconcile")

LOCK_KEY = "autofix:reconcile:lock"
LOCK_TTL_MS = 10 * 60 * 1000  # longer than a run; a crashed run's lock frees itself
ASKED_KEY = "autofix:reconcile:asked:{delivery_id}"  # a failed attempt we asked GitHub to redeliver
TRIES_KEY = "autofix:reconcile:tries:{guid}"
MEMORY_S = int((RETENTION + timedelta(days=1)).total_seconds())
MAX_REDELIVERIES = 3  # per GUID: a delivery we keep refusing is not sent again every run
CHECK_WINDOW = timedelta(hours=6)
MAX_INSTALLATIONS = 50
MAX_REPOS = 200  # per run, all installations together
MAX_ISSUES_PER_REPO = 50
EVERY_MINUTES = frozenset(range(2, 60, 5))  # off the hour, when other crons crowd in
DELIVERY_PREFIX = "reconcile:"  # the "delivery id" a reconciled job is enqueued under
SENDER = {"login": "autofix-reconcile", "type": "User"}  # routing ignores bots; this is us, looking

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class Reconciled:
    """What one run did (the cron job's result, and the log line)."""

    busy: bool = False  # another worker holds the lock: nothing was done
    redelivered: list[str] = field(default_factory=list)  # GUIDs
    enqueued: list[str] = field(default_factory=list)  # job ids
    problems: list[str] = field(default_factory=list)


# -- pure: what a listing from GitHub means ---------------------------------------------------------


def decide_redeliveries(failed: Iterable[Delivery], asked: set[int], tries: dict[str, int]) -> list[Delivery]:
    """Failed attempts to redeliver: not asked for before, and their GUID not past its tries."""
    return [d for d in failed if d.id not in asked and tries.get(d.guid, 0) < MAX_REDELIVERIES]


def check_run_event(repo: Json, run: Json, branch: str, installation_id: int) -> Json:
    """The `check_run.completed` payload a webhook would have carried for `run` (a REST check run,
    whose `check_suite` lacks the branch the webhook names)."""
    suite = {**(run.get("check_suite") or {}), "head_branch": branch}
    return {
        "action": "completed",
        "check_run": run | {"check_suite": suite},
        "repository": repo,
        "installation": {"id": installation_id},
        "sender": SENDER,
    }


def issue_event(repo: Json, issue: Json, label: str, installation_id: int) -> Json:
    """The `issues.labeled` payload for an open issue that carries the trigger label."""
    return {
        "action": "labeled",
        "issue": issue,
        "label": {"name": label},
        "repository": repo,
        "installation": {"id": installation_id},
        "sender": SENDER,
    }


def recent_failures(runs: Iterable[Json], since: datetime) -> list[Json]:
    """Completed, failed check runs that finished at or after `since`."""
    found = []
    for run in runs:
        done = run.get("completed_at")
        if run.get("status") != "completed" or run.get("conclusion") not in FAILED_CONCLUSIONS or not done:
            continue
        if datetime.fromisoformat(str(done).replace("Z", "+00:00")) >= since:
            found.append(run)
    return found


def issue_thread(job_id: str) -> tuple[int, int] | None:
    """(repo id, issue number) of an `issue:{repo_id}:{number}:{label_event}` job id."""
    parts = job_id.split(":", 3)
    if len(parts) == 4 and parts[0] == "issue" and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


# -- Redis: the lock, the memory of what was asked, what has a job -----------------------------------


async def acquire_lock(redis: Redis, token: str, ttl_ms: int = LOCK_TTL_MS) -> bool:
    return bool(await redis.set(LOCK_KEY, token, nx=True, px=ttl_ms))


async def release_lock(redis: Redis, token: str) -> None:
    """Delete the lock only if it is still ours (it may have expired and been taken since)."""
    await redis.eval(_RELEASE, 1, LOCK_KEY, token)  # type: ignore[misc]  # redis-py types eval loosely


async def _asked(redis: Redis, failed: list[Delivery]) -> tuple[set[int], dict[str, int]]:
    if not failed:
        return set(), {}
    asked = await redis.mget([ASKED_KEY.format(delivery_id=d.id) for d in failed])
    tries = await redis.mget([TRIES_KEY.format(guid=d.guid) for d in failed])
    return (
        {d.id for d, a in zip(failed, asked, strict=True) if a is not None},
        {d.guid: int(t) for d, t in zip(failed, tries, strict=True) if t is not None},
    )


async def _remember(redis: Redis, delivery: Delivery) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(ASKED_KEY.format(delivery_id=delivery.id), delivery.guid, ex=MEMORY_S)
        pipe.incr(TRIES_KEY.format(guid=delivery.guid))
        pipe.expire(TRIES_KEY.format(guid=delivery.guid), MEMORY_S)
        await pipe.execute()


async def has_job(redis: Redis, job_id: str) -> bool:
    """Queued or running (arq's job key), finished recently (its result), or recorded (90 days)."""
    return bool(await redis.exists(JOB_PREFIX + job_id, RESULT_PREFIX + job_id, KEY.format(job_id=job_id)))


async def issues_with_jobs(redis: Redis) -> set[tuple[int, int]]:
    """Every (repo id, issue number) that has an issue job queued or recorded: one scan per run.
    An issue with any job is left alone (a re-label the webhook lost is not recovered)."""
    found: set[tuple[int, int]] = set()
    for key in (INDEX, QUEUE):
        async for member, _ in redis.zscan_iter(key, match="issue:*", count=1000):
            thread = issue_thread(member.decode() if isinstance(member, bytes) else str(member))
            if thread is not None:
                found.add(thread)
    return found


class ScriptRunner:
    """DeliveryQueue's one Redis need (EVALSHA with an EVAL fallback), on the worker's redis-py client."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def evalsha(self, sha: str, script: str, keys: list[Any], args: list[Any]) -> Any:
        try:
            return await self.redis.evalsha(sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await self.redis.eval(script, len(keys), *keys, *args)  # type: ignore[misc]


# -- GitHub: deliveries, installations, repositories ------------------------------------------------


async def redeliver_failed(app: GitHubApp, redis: Redis, now: datetime) -> list[str]:
    failed = await list_failed_deliveries(app, now - RETENTION)
    asked, tries = await _asked(redis, failed)
    done = []
    for delivery in decide_redeliveries(failed, asked, tries):
        await _remember(redis, delivery)  # before asking: a crash between the two never asks twice
        await redeliver(app, delivery.id)
        done.append(delivery.guid)
    return done


async def _repositories(app: GitHubApp) -> AsyncIterator[tuple[int, Json]]:
    seen = 0
    installations = fetch_pages(app.call, "/app/installations", max_pages=1)
    async for installation in installations:
        inst = app.installation(int(installation["id"]))
        async for repo in fetch_pages(
            inst.read, "/installation/repositories", key="repositories", max_pages=2
        ):
            if seen >= MAX_REPOS:
                return
            seen += 1
            yield inst.id, repo


async def find_missed_jobs(
    app: GitHubApp, redis: Redis, settings: Settings, now: datetime
) -> list[JobRequest]:
    """Jobs the webhook path would have created, for failed checks and labelled issues, that do not exist."""
    covered = await issues_with_jobs(redis)
    missed: list[JobRequest] = []
    async for installation_id, repo in _repositories(app):
        inst = app.installation(installation_id)
        full, branch = str(repo["full_name"]), str(repo.get("default_branch") or "main")
        if repo.get("archived"):
            continue
        events: list[tuple[str, Json]] = []
        ref = f"/repos/{full}/commits/{segment(branch)}/check-runs"
        runs = body(await inst.read(request("GET", ref, params={"per_page": 100}))).get("check_runs") or []
        for run in recent_failures(runs, now - CHECK_WINDOW):
            events.append(("check_run", check_run_event(repo, run, branch, installation_id)))
        params = {"state": "open", "labels": settings.autofix_label}
        issues = fetch_pages(inst.read, f"/repos/{full}/issues", params, max_pages=1)
        async for issue in issues:
            if "pull_request" not in issue and (int(repo["id"]), int(issue["number"])) not in covered:
                events.append(("issues", issue_event(repo, issue, settings.autofix_label, installation_id)))
            if len(events) > MAX_ISSUES_PER_REPO:
                break
        for event, payload in events:
            try:
                routed = route(event, payload, settings).jobs
            except MalformedPayload as e:
                log.warning("cannot route a reconciled %s of %s: %s", event, full, e, extra={"repo": full})
                continue
            missed += [job for job in routed if not await has_job(redis, job.job_id)]
    return missed


async def enqueue_missed(redis: Redis, jobs: list[JobRequest]) -> list[str]:
    queue = DeliveryQueue(cast(PipelinedRedis, ScriptRunner(redis)))  # only evalsha is used
    enqueued = []
    for job in jobs:
        result = await queue.enqueue(DELIVERY_PREFIX + job.job_id, [job])
        if not result.duplicate and not result.existing:
            enqueued.append(job.job_id)
    return enqueued


# -- the cron job -------------------------------------------------------------------------------------


async def reconcile(ctx: dict[str, Any]) -> dict[str, Any]:
    """One run, under the lock. Each half's GitHub errors are reported, not raised: the next run retries."""
    redis: Redis = ctx["redis"]
    app: GitHubApp | None = ctx.get("github")
    result = Reconciled()
    if app is None:
        result.problems.append("no GitHub App credentials: nothing to reconcile")
        return _done(result)
    token = secrets.token_hex(8)
    if not await acquire_lock(redis, token):
        result.busy = True
        return _done(result)
    try:
        now = datetime.fromtimestamp(app.clock(), UTC)
        try:
            result.redelivered = await redeliver_failed(app, redis, now)
        except GitHubError as e:
            result.problems.append(f"deliveries: {e}")
        try:
            missed = await find_missed_jobs(app, redis, ctx["settings"], now)
            result.enqueued = await enqueue_missed(redis, missed)
        except GitHubError as e:
            result.problems.append(f"cross-check: {e}")
    finally:
        await release_lock(redis, token)
    return _done(result)


def _done(result: Reconciled) -> dict[str, Any]:
    summary = {
        "busy": result.busy,
        "redelivered": result.redelivered,
        "enqueued": result.enqueued,
        "problems": result.problems,
    }
    level = logging.WARNING if result.problems else logging.INFO
    log.log(level, "reconciled", extra={"outcome": "busy" if result.busy else "done"} | summary)
    return summary


def cron_jobs(settings: Settings) -> list[CronJob]:
    """For the fix worker's `Worker(cron_jobs=…)`: reconcile every five minutes."""
    return [
        cron(
            reconcile,
            name="reconcile",
            minute=set(EVERY_MINUTES),
            run_at_startup=True,
            unique=True,
            timeout=LOCK_TTL_MS // 1000,
            max_tries=1,
        )
    ]
