"""The commands that read or set state: help, status, explain, stop, ignore, budget."""

from __future__ import annotations

import logging
import time

from arq.constants import abort_jobs_ss

from app.budgets import BudgetLedger
from app.repo_state import RepoState
from jobs.commands import control, replies
from jobs.commands.context import Answer, Asked
from jobs.commands.enqueue import queue_position, waiting_jobs
from jobs.commands.thread import request_threads

log = logging.getLogger("autofix.jobs.commands")


async def run_help(asked: Asked) -> Answer:
    error = asked.command.error
    return Answer(error is None, replies.render_help(error), {"error": error} if error else {})


async def run_status(asked: Asked) -> Answer:
    thread = await asked.thread()
    latest = thread.latest
    redis = asked.deps.redis
    position = await queue_position(redis, latest.job_id) if latest else None
    new = await waiting_jobs(redis, asked.repo_id, set(thread.numbers()))
    waiting = await queue_position(redis, new[0]) if new else None
    usage = await BudgetLedger(redis, asked.repo_id).usage(now=asked.deps.clock())
    cap = await control.thread_budget(redis, asked.repo_id, asked.number)
    ceiling = asked.deps.settings.autofix_max_dollars
    text = replies.render_status(
        latest, position, usage, asked.config.values, cap, waiting=waiting, ceiling=ceiling
    )
    return Answer(True, text, {"job_id": latest.job_id if latest else None})


async def run_explain(asked: Asked) -> Answer:
    latest = (await asked.thread()).diagnosed
    return Answer(
        latest is not None, replies.render_explain(latest), {"job_id": latest.job_id if latest else None}
    )


async def run_stop(asked: Asked) -> Answer:
    """Flag the thread and its running jobs (they end at their next phase boundary); jobs still
    waiting in the queue get arq's abort request (what `Job.abort` sends), so the worker drops them
    before they start; a running job is not cancelled mid-phase, so it leaves its record whole."""
    thread = await asked.thread()
    redis = asked.deps.redis
    running = [r.job_id for r in thread.jobs if r.status == "running"]
    await control.stop_thread(redis, asked.repo_id, thread.numbers(), running)
    waiting = await waiting_jobs(redis, asked.repo_id, set(thread.numbers()))
    if waiting:
        await redis.zadd(abort_jobs_ss, dict.fromkeys(waiting, int(time.time() * 1000)))
    aborted = waiting
    return Answer(True, replies.render_outcome("stopped"), {"flagged": running, "aborted": aborted})


async def run_ignore(asked: Asked) -> Answer:
    fingerprint = (await asked.thread()).fingerprint
    if fingerprint is None:
        return Answer(False, replies.render_outcome("no_fingerprint"))
    await RepoState(asked.deps.redis, asked.repo_id).ignore(fingerprint)
    return Answer(
        True, replies.render_outcome("ignored", fingerprint=fingerprint), {"fingerprint": fingerprint}
    )


async def run_budget(asked: Asked) -> Answer:
    """The cap goes on the thread and, on a bot PR, on the issue or PR its fix came from: every
    attempt there, whatever started it, reads it (`control.fetch_raised_cap`)."""
    dollars = asked.command.dollars
    thread = await asked.thread()
    numbers = set(thread.numbers())
    if thread.bot_pr and thread.diagnosed is not None:
        numbers |= request_threads(thread.diagnosed.request)
    for number in sorted(numbers):
        await control.set_thread_budget(asked.deps.redis, asked.repo_id, number, dollars)
    text = replies.render_outcome("budget", dollars=dollars)
    ceiling = asked.deps.settings.autofix_max_dollars
    if dollars > ceiling:
        text = text.removesuffix(".") + replies.render_ceiling(ceiling)
    return Answer(True, text, {"dollars": dollars})
