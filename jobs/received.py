"""The routed job functions, as registered with the worker.

Each one records what it received in the audit stream, then does its work: failed checks go to the
fix pipeline (jobs/fix_check.py) when the worker has the App and a model configured; sandbox runs
wake the job waiting on them; labelled issues to the issue
pipeline (jobs/fix_issue.py); `/autofix` comments to jobs/commands/; closed bot PRs go to fix memory.
"""

from __future__ import annotations

import logging
from typing import Any

from app.audit import append_audit
from app.github.client import TOKEN_KEY
from jobs import bot_ci, fix_check, names, pr_outcome
from jobs import fix_issue as fix_issue_job
from jobs.commands import run as commands_run
from jobs.deps import deps_of
from jobs.sandbox.signals import post_run_finished

log = logging.getLogger("autofix.jobs")
JSON = dict[str, Any]


async def _record(ctx: JSON, function: str, request: JSON) -> JSON:
    extra = {"job_id": ctx.get("job_id"), "job_try": ctx.get("job_try"), "function": function}
    log.info("received", extra=extra | {"repo": request.get("repo")})
    await append_audit(
        ctx["redis"], "job.received", function=function, job_id=ctx.get("job_id"), request=request
    )
    return {"received": request}


async def fix_check_run(ctx: JSON, request: JSON) -> JSON:
    """A failed check run to repair: recorded, then the fix pipeline (jobs/fix_check.py) when the
    worker has the App and a model configured."""
    received = await _record(ctx, names.FIX_CHECK_RUN, request)
    if "deps" not in ctx:
        return received
    return await fix_check.fix_check_run(ctx, request)


async def fix_issue(ctx: JSON, request: JSON) -> JSON:
    """An issue labelled for autofix: recorded, then the issue pipeline (jobs/fix_issue.py) when the
    worker has the App and a model configured."""
    received = await _record(ctx, names.FIX_ISSUE, request)
    if "deps" not in ctx:
        return received
    return await fix_issue_job.fix_issue(ctx, request)


async def run_command(ctx: JSON, request: JSON) -> JSON:
    """A `/autofix` comment: recorded, then answered (jobs/commands/run.py) when the worker has the
    App and a model configured."""
    received = await _record(ctx, names.RUN_COMMAND, request)
    if "deps" not in ctx:
        return received
    job_id = str(ctx.get("job_id") or request.get("job_id"))
    return await commands_run.run_command(deps_of(ctx), request, job_id)


async def sandbox_finished(ctx: JSON, request: JSON) -> JSON:
    """The sandbox workflow finished: wake the ActionsSandbox waiting on it (jobs/sandbox/signals.py)."""
    await post_run_finished(
        ctx["redis"], request.get("display_title"), int(request["run_id"]), request.get("conclusion")
    )
    return await _record(ctx, names.SANDBOX_FINISHED, request)


async def record_pr_outcome(ctx: JSON, request: JSON) -> JSON:
    """One of our PRs was closed: merged or rejected, into fix memory and the open-PR count."""
    await _record(ctx, names.RECORD_PR_OUTCOME, request)
    settings = ctx.get("settings")
    prefix = settings.autofix_branch_prefix if settings is not None else "autofix/"
    return await pr_outcome.record_pr_outcome(ctx["redis"], request, prefix)


GONE = frozenset({"deleted", "suspend"})  # the installation's tokens stop working


async def record_installation(ctx: JSON, request: JSON) -> JSON:
    """The App was installed, removed, or its repositories changed. Records it; a removed or suspended
    installation's cached token is dropped at once (D5), so no worker tries it again."""
    recorded = await _record(ctx, names.RECORD_INSTALLATION, request)
    if request.get("action") in GONE and request.get("installation_id") is not None:
        await ctx["redis"].delete(TOKEN_KEY.format(int(request["installation_id"])))
    return recorded


async def record_bot_check(ctx: JSON, request: JSON) -> JSON:
    """CI finished a check on one of our own branches: recorded, and said on the bot PR."""
    await _record(ctx, names.RECORD_BOT_CHECK, request)
    settings, github = ctx.get("settings"), ctx.get("github")
    prefix = settings.autofix_branch_prefix if settings is not None else "autofix/"
    inst = (
        github.installation(int(request["installation_id"]))
        if github and request.get("installation_id")
        else None
    )
    return await bot_ci.record_bot_check(ctx["redis"], request, prefix, inst)


async def record_revert(ctx: JSON, request: JSON) -> JSON:
    """A revert on the default branch: a reverted bot fix becomes a rejected one in fix memory."""
    await _record(ctx, names.RECORD_REVERT, request)
    return await pr_outcome.record_revert(ctx["redis"], request)


FUNCTIONS = {
    names.FIX_CHECK_RUN: fix_check_run,
    names.FIX_ISSUE: fix_issue,
    names.RUN_COMMAND: run_command,
    names.SANDBOX_FINISHED: sandbox_finished,
    names.RECORD_PR_OUTCOME: record_pr_outcome,
    names.RECORD_INSTALLATION: record_installation,
    names.RECORD_BOT_CHECK: record_bot_check,
    names.RECORD_REVERT: record_revert,
}
