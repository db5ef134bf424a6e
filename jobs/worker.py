"""The arq worker: which functions it runs, how jobs are (de)serialized, how it starts and stops.

Each worker (the fix queue's and the command queue's) beats every `stats.HEARTBEAT_S` while it runs,
saying its queue, host, pid, jobs running, start time and version (the dashboard's "workers alive"),
and flushes its GitHub call counts with the beat; at shutdown it stops beating and leaves the set.
It notes the jobs it runs (jobs/reaper.py), so a job of a worker that died runs again within a minute.
When Redis goes away the workers stop, and `keep_working` builds them again once it answers.

Every job runs in its log context (app/joblog.py: its lines go to `autofix logs --job ID`) and inside
`github_outcomes`. The fix worker of a long-running process also runs the cron jobs: reconciliation
(every five minutes), the reaper (every 15 seconds) and the weekly report (when configured), in UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from importlib import metadata
from typing import Any, cast

from arq import func
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import joblog, stats
from app.github.client import GitHubApp
from app.queue import deserialize, serialize
from app.settings import Settings
from jobs import names, reaper, reconcile, weekly_report
from jobs.deps import build_deps
from jobs.github_outcomes import DEAD_AFTER_TRIES, JobFunction, github_outcomes
from jobs.received import FUNCTIONS

log = logging.getLogger("autofix.worker")
# Redis gone or not taking writes (a replica after a failover); redis-py wraps socket errors in these
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)
CLOSE_WAIT_S = 10.0  # for cancelled jobs to end before their workers are let go
MAX_PAUSE_S = 10.0

JOB_TIMEOUT_S = 2 * 3600  # a fix attempt: reproduce, validate and refine are sandbox batches of up to
# AUTOFIX_SANDBOX_WAIT (30 min) each
KEEP_RESULT_S = 24 * 3600  # while a result is kept, the same job id is not enqueued again
COMMAND_TIMEOUT_S = 5 * 60  # a command answers, or enqueues a fix job, within this
MAX_TRIES = DEAD_AFTER_TRIES  # github_outcomes buries a job asking for a retry at its last try
GITHUB_CREDENTIALS = ("github_app_id", "github_private_key")


def model_missing(settings: Settings) -> list[str]:
    """What the first configured model provider still lacks ([] when one can be used)."""
    for provider in settings.autofix_providers.split(","):
        needs = (
            ("anthropic_api_key",)
            if provider == "anthropic"
            else ("openai_compat_base_url", "openai_compat_model")
        )
        if not settings.missing(*needs):
            return []
    return list(settings.missing("anthropic_api_key"))


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def version() -> str:
    try:
        return metadata.version("autofix")
    except metadata.PackageNotFoundError:
        return "unknown"


def worker_info(queue_name: str, running: int, started_at: float) -> dict[str, Any]:
    """What a heartbeat says about this worker. Pure apart from the host name and pid."""
    return {
        "queue": "command" if queue_name == names.COMMAND_QUEUE else "fix",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "running": running,
        "started_at": round(started_at, 3),
        "version": version(),
    }


async def beat(ctx: dict[str, Any], worker_id: str, info: Callable[[], dict[str, Any]]) -> None:
    """Heartbeats until cancelled; a Redis error skips a beat (the next may get through)."""
    while True:
        try:
            await stats.heartbeat(ctx["redis"], worker_id, info())
            if isinstance(ctx.get("github"), GitHubApp):
                await ctx["github"].meter.flush()
        except Exception:  # the beat must outlive a Redis restart
            log.warning("heartbeat failed", exc_info=True, extra={"worker_id": worker_id})
        await asyncio.sleep(stats.HEARTBEAT_S)


async def stop_beating(ctx: dict[str, Any], worker_id: str) -> None:
    task = ctx.pop("heartbeat", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with contextlib.suppress(Exception):  # shutting down: Redis may be gone already
        if isinstance(ctx.get("github"), GitHubApp):
            await ctx["github"].meter.aclose()
        await ctx["redis"].zrem(stats.WORKERS, worker_id)
        await ctx["redis"].delete(stats.WORKER.format(worker_id=worker_id))


def cron_jobs(settings: Settings) -> list[CronJob]:
    return [*reconcile.cron_jobs(settings), *reaper.cron_jobs(), *weekly_report.cron_jobs(settings)]


def build_worker(
    settings: Settings,
    redis_url: str,
    *,
    burst: bool = False,
    handle_signals: bool = True,
    functions: Mapping[str, JobFunction] = FUNCTIONS,
    queue_name: str = names.FIX_QUEUE,
) -> Worker:
    """A worker for `redis_url`. Construct it inside the running event loop (arq needs one).

    Each job function runs inside `github_outcomes`, so a GitHub rate limit becomes an arq retry
    at the time GitHub named, and a permission or not-found error stops the job with its reason.
    """
    started_at = time.time()
    # a new id for every worker built: one rebuilt after a Redis outage is not mistaken for the one
    # whose jobs died with the connection, so the reaper frees those
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{queue_name}:{secrets.token_hex(3)}"

    def info() -> dict[str, Any]:
        running = sum(not t.done() for t in worker.job_tasks.values())
        return worker_info(queue_name, running, started_at)

    fix_queue = queue_name == names.FIX_QUEUE

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await stop_beating(ctx, worker_id)
        if ctx.get("joblog") is not None:
            await joblog.uninstall(ctx.pop("joblog"))

    async def on_job_start(ctx: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # bookkeeping for the reaper must never stop a job
            await reaper.note_running(ctx["redis"], ctx["job_id"], worker_id)

    async def after_job_end(ctx: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await reaper.note_done(ctx["redis"], ctx["job_id"])

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["heartbeat"] = asyncio.ensure_future(beat(ctx, worker_id, info))
        if fix_queue:  # one job-log handler per process (the command worker shares it)
            ctx["joblog"] = joblog.install(ctx["redis"])
        missing = [*settings.missing(*GITHUB_CREDENTIALS), *model_missing(settings)]
        if missing:
            log.warning("not configured: %s; jobs are recorded, nothing is fixed", ", ".join(missing))
        if not settings.missing(*GITHUB_CREDENTIALS):
            ctx["github"] = GitHubApp(settings, ctx["redis"])
            if not missing:
                ctx["deps"] = build_deps(settings, ctx["redis"], ctx["github"])

    # arq types job functions as (ctx, *args, **kwargs); ours take exactly (ctx, request)
    wrapped = [
        func(
            cast(Any, joblog.in_job_context(name, github_outcomes(fn))), name=name, keep_result=KEEP_RESULT_S
        )
        for name, fn in functions.items()
    ]
    worker = Worker(
        functions=wrapped,
        redis_settings=redis_settings(redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        on_job_start=on_job_start,
        after_job_end=after_job_end,
        # a burst worker (tests, `replay`) empties its queue and stops: no schedule of its own
        cron_jobs=cron_jobs(settings) if fix_queue and not burst else None,
        timezone=UTC,
        job_timeout=JOB_TIMEOUT_S if fix_queue else COMMAND_TIMEOUT_S,
        queue_name=queue_name,
        max_tries=MAX_TRIES,
        keep_result=KEEP_RESULT_S,
        burst=burst,
        handle_signals=handle_signals,
        poll_delay=0.5 if not burst else 0.05,
        allow_abort_jobs=True,
    )
    worker.ctx["worker_id"] = worker_id  # keep_working frees its jobs if Redis goes away
    return worker


def build_workers(
    settings: Settings, redis_url: str, *, burst: bool = False, handle_signals: bool = True
) -> list[Worker]:
    """The fix worker and the command worker (its own queue: replies never wait behind fix jobs).
    With `handle_signals`, the fix worker takes the signals and `run_workers` stops the other with
    it; `keep_working` takes them itself."""
    return [
        build_worker(settings, redis_url, burst=burst, handle_signals=handle_signals),
        build_worker(settings, redis_url, burst=burst, handle_signals=False, queue_name=names.COMMAND_QUEUE),
    ]


async def run_workers(workers: list[Worker], *, burst: bool = False) -> None:
    """Run `workers` until one stops (a signal) or, in burst mode, all have emptied their queues;
    then close them all (running jobs are cancelled and re-queued by arq)."""
    tasks = [asyncio.ensure_future(w.async_run()) for w in workers]
    try:
        done, _ = await asyncio.wait(
            tasks, return_when=asyncio.ALL_COMPLETED if burst else asyncio.FIRST_COMPLETED
        )
    finally:
        for worker in workers:
            await _close(worker)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for task in done:  # a worker that crashed (Redis gone, say) ends the run with its error
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _close(worker: Worker) -> None:
    """arq's close, which writes to Redis first. With Redis gone, what it would have done after that:
    cancel the jobs and wait a little for them (a job cancelled inside a thread runs on until the
    thread returns), stop the heartbeat (else the old id beats again once Redis is back) and drop the
    connections. The jobs still running after the wait are noted in `ctx["still_running"]`."""
    try:
        await worker.close()
        return
    except REDIS_DOWN:
        pass
    worker.handle_sig(signal.SIGUSR1)  # cancels every job task; none may touch Redis again
    pending = {job: t for job, t in [*worker.tasks.items(), *worker.job_tasks.items()] if not t.done()}
    if pending:
        await asyncio.wait(pending.values(), timeout=CLOSE_WAIT_S)
    worker.ctx["still_running"] = {job for job, t in pending.items() if not t.done()}
    if worker.on_shutdown is not None:
        with contextlib.suppress(*REDIS_DOWN):
            await worker.on_shutdown(worker.ctx)
    pool, worker._pool = worker._pool, None  # arq keeps its connection private
    if pool is not None:
        await pool.aclose(close_connection_pool=True)


def _stop_on_signals(task: asyncio.Task[Any]) -> None:
    """SIGTERM and SIGINT cancel `task`, whatever worker is running or Redis is doing: the workers
    are closed (their jobs cancelled and re-queued by arq) on the way out."""
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        log.info("stopping on %s", sig.name)
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop, sig)


async def keep_working(
    settings: Settings, redis_url: str, *, handle_signals: bool = True, wait_s: float = 1.0
) -> None:
    """The fix and command workers until a signal stops them (with `handle_signals`: SIGTERM and
    SIGINT; else by cancelling this). When Redis goes away (a restart, a crash, a failover) they
    stop with its error; they are built again once it answers, so a Redis restart never leaves
    `autofix serve` without workers, nor needs a supervisor to restart `autofix worker`. The jobs
    they were running are freed at once, but for any still running in a thread (the reaper's)."""
    task = asyncio.current_task()
    if handle_signals and task is not None:
        _stop_on_signals(task)
    pause = wait_s
    while True:
        workers = build_workers(settings, redis_url, handle_signals=False)
        started = time.monotonic()
        try:
            await run_workers(workers)
            return
        except REDIS_DOWN as e:
            log.warning("redis unreachable (%s): the workers start again once it answers", e)
        pause = wait_s if time.monotonic() - started > 60 else min(MAX_PAUSE_S, pause * 2)
        try:
            await wait_for_redis(redis_url, pause)
            async with Redis.from_url(redis_url) as redis:  # their jobs run again now, not after the grace
                gone = {str(w.ctx["worker_id"]) for w in workers}
                busy: set[str] = set().union(*(w.ctx.get("still_running", set()) for w in workers))
                await reaper.free_jobs_of(redis, gone, keep=busy)
        except REDIS_DOWN as e:
            log.warning("redis went away again (%s)", e)


async def wait_for_redis(redis_url: str, wait_s: float, *, max_wait_s: float = MAX_PAUSE_S) -> None:
    """Until Redis answers PING, polling with a growing pause."""
    while True:
        await asyncio.sleep(wait_s)
        client = Redis.from_url(redis_url)
        try:
            if await client.ping():
                return
        except REDIS_DOWN as e:
            log.warning("redis still unreachable (%s); next try in %.0fs", e, min(max_wait_s, wait_s * 2))
            wait_s = min(max_wait_s, wait_s * 2)
        finally:
            await client.aclose()
