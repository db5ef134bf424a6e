"""The commands that start a fix attempt: `retry [guidance]` and `/autofix [instructions]` on an issue.

A retry is the thread's last fix job again under a fresh job id, with the maintainer's words and the
thread's raised budget in its request; it goes through the same gate, budgets, guards and proof as
the first attempt, and clears a `stop` on the thread.
"""

from __future__ import annotations

from typing import Any

from jobs import names
from jobs.commands import control, replies
from jobs.commands.context import Answer, Asked
from jobs.commands.enqueue import enqueue_job

JSON = dict[str, Any]


async def _words(asked: Asked) -> JSON:
    """What every new attempt carries from the command: the guidance, who gave it, the thread's cap."""
    out: JSON = {"requested_by": asked.author, "command_id": asked.request.get("comment_id")}
    if asked.command.text:
        out["guidance"] = asked.command.text
    cap = await control.thread_budget(asked.deps.redis, asked.repo_id, asked.number)
    if cap is not None:
        out["dollars_per_job"] = cap
    return out


async def run_retry(asked: Asked) -> Answer:
    thread = await asked.thread()
    latest = thread.latest
    if latest is None:
        return Answer(False, replies.render_outcome("retry_nothing"))
    base = latest.request.get("retry_of") or latest.job_id
    job_id = f"{base}:retry:{asked.request.get('comment_id')}"
    request = (
        dict(latest.request)
        | await _words(asked)
        | {
            "retry_of": base,
            "threads": sorted(set(thread.numbers()) | set(latest.request.get("threads") or [])),
        }
    )
    await control.resume_thread(asked.deps.redis, asked.repo_id, thread.numbers())
    created = await enqueue_job(asked.deps.redis, latest.kind, job_id, request)
    return Answer(
        True, replies.render_outcome("retry", job_id=job_id), {"job_id": job_id, "created": created}
    )


async def run_fix(asked: Asked) -> Answer:
    """`/autofix [instructions]` on an issue: what the trigger label does, with the instructions."""
    if asked.request.get("is_pull_request"):
        return Answer(False, replies.render_outcome("fix_not_issue"))
    comment_id = asked.request.get("comment_id")
    request = {
        "repo_id": asked.repo_id,
        "repo": asked.request["repo"],
        "installation_id": asked.request.get("installation_id"),
        "issue_number": asked.number,
        "label_event": f"command-{comment_id}",
        "sender": asked.author,
    } | await _words(asked)
    job_id = f"issue:{asked.repo_id}:{asked.number}:command-{comment_id}"
    await control.resume_thread(asked.deps.redis, asked.repo_id, [asked.number])
    created = await enqueue_job(asked.deps.redis, names.FIX_ISSUE, job_id, request)
    return Answer(True, replies.render_outcome("fix", job_id=job_id), {"job_id": job_id, "created": created})
