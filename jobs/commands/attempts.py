"""The commands that start a fix attempt: `retry [guidance]`, `revise <feedback>`, and `/autofix
[instructions]` on an issue.

A retry or a revise is the thread's last fix job again under a fresh job id, with the maintainer's
words and the thread's raised budget in its request; it goes through the same gate, budgets, guards
and proof as the first attempt, and clears a `stop` on the thread. A retry on a bot PR replaces the
PR's commit with a new proven fix of the failure. A revise starts from the PR's head as it is when
asked (`revise` in the request: the PR, its branch and head sha): the model sees the fix and the
feedback, and the proven change lands as a follow-up commit on that head, by fast-forward only.
"""

from __future__ import annotations

from typing import Any

from app.job_records import JobRecord
from jobs import names
from jobs.commands import control, replies
from jobs.commands.context import Answer, Asked
from jobs.commands.enqueue import enqueue_job
from jobs.commands.thread import Thread

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
    return await _again(asked, asked.command.text, "retry")


async def run_revise(asked: Asked) -> Answer:
    """`revise <feedback>` on a bot PR: an attempt that starts from the PR's head with the feedback,
    proven again in the sandbox, whose change becomes a follow-up commit on the PR's branch."""
    thread = await asked.thread()
    if not thread.bot_pr or thread.pr is None:
        return Answer(False, replies.render_outcome("not_bot_pr", verb="revise"))
    if thread.pr.state != "open":
        return Answer(False, replies.render_outcome("revise_closed"))
    feedback = (
        f"Review feedback on the fix already in #{asked.number} (your checkout is its head); "
        f"change it to address the feedback:\n{asked.command.text}"
    )
    made = thread.diagnosed
    causes = [str(p.detail["root_cause"]) for p in made.phases if p.detail.get("root_cause")] if made else []
    revise = {
        "number": thread.pr.number,
        "branch": thread.pr.head_ref,
        "head_sha": thread.pr.head_sha,
        "by": asked.author,
        "root_cause": causes[-1] if causes else "",
    }
    return await _again(asked, feedback, "revise", revise)


def bot_pr_of(thread: Thread, latest: JobRecord) -> int | None:
    """The bot PR a new attempt should update: this thread when it is one, else the PR the last job opened."""
    if thread.bot_pr:
        return thread.number
    opened = latest.checkpoints.get("pull_request")
    return int(opened["number"]) if isinstance(opened, dict) and "number" in opened else None


async def _again(asked: Asked, guidance: str, verb: str, revise: JSON | None = None) -> Answer:
    """The thread's last fix job again under a fresh id, with `guidance`; it updates the bot PR
    (`revise`: by a follow-up commit on the head named there)."""
    thread = await asked.thread()
    latest = thread.latest
    if latest is None:
        return Answer(False, replies.render_outcome("retry_nothing"))
    base = latest.request.get("retry_of") or latest.job_id
    job_id = f"{base}:{verb}:{asked.request.get('comment_id')}"
    request = (
        dict(latest.request)
        | await _words(asked)
        | {
            "retry_of": base,
            "threads": sorted(set(thread.numbers()) | set(latest.request.get("threads") or [])),
            "update_pr": bot_pr_of(thread, latest),
        }
    )
    if guidance:
        request["guidance"] = guidance
    else:
        request.pop("guidance", None)
    request.pop("revise", None)  # a retry after a revise starts from the failure again
    if revise is not None:
        request["revise"] = revise
    await control.resume_thread(asked.deps.redis, asked.repo_id, thread.numbers())
    created = await enqueue_job(asked.deps.redis, latest.kind, job_id, request)
    head = f"`{str((revise or {}).get('head_sha'))[:7]}`"
    text = replies.render_outcome(verb, job_id=job_id, head=head)
    return Answer(True, text, {"job_id": job_id, "created": created})


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
