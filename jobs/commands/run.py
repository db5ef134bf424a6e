"""run_command: a `/autofix` comment, answered.

👀 on the comment at once; then the repo config, the commenter's permission asked from GitHub (not
the webhook's `author_association`), and the command's handler; then 🚀 or 😕 and a short reply.
Someone without the permission gets one short reply per hour and thread, and nothing happens. Bots
are never answered. Every command, allowed or not, goes to the audit trail: who asked for what.

A retried job does not reply twice: the reply is checkpointed in the job record, and it ends with a
hidden marker naming the command, so a retry of a job killed between GitHub's 201 and the checkpoint
finds that reply among the thread's newest comments (the bot's own only) and adopts it instead of
posting again. A first try has nothing to find and lists nothing: the record is started before the
post, so only a try that finds it already started can have posted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from app.audit import append_audit
from app.commands import Command
from app.github.client import Installation
from app.github.contents import read_repo_config
from app.github.conversation import (
    add_reaction,
    create_comment,
    fetch_permission,
    find_marked_comment,
    render_sticky,
)
from app.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from jobs import names
from jobs.commands import attempts, branches, control, replies, simple
from jobs.commands.context import Answer, Asked
from jobs.commands.permissions import decide_permission
from jobs.commands.review import fetch_review_comments, render_review_feedback
from jobs.deps import Deps

log = logging.getLogger("autofix.jobs.commands")
JSON = dict[str, Any]
Handler = Callable[[Asked], Awaitable[Answer]]


HANDLERS: dict[str, Handler] = {
    "help": simple.run_help,
    "status": simple.run_status,
    "explain": simple.run_explain,
    "stop": simple.run_stop,
    "ignore": simple.run_ignore,
    "budget": simple.run_budget,
    "retry": attempts.run_retry,
    "fix": attempts.run_fix,
    "revise": attempts.run_revise,
    "apply": branches.run_apply,
    "undo": branches.run_undo,
}


def is_bot_login(login: str) -> bool:
    return login.endswith("[bot]")


async def run_command(deps: Deps, request: JSON, job_id: str) -> JSON:
    command = Command.from_json(dict(request.get("command") or {}))
    owner, name = str(request["repo"]).split("/", 1)
    author = str(request["author"])
    inst = deps.github.installation(int(request["installation_id"]), repository_id=int(request["repo_id"]))
    audit = {"job_id": job_id, "repo": request["repo"], "number": int(request["number"]), "author": author,
             "verb": command.verb, "raw": command.raw, "review_id": request.get("review_id")}  # fmt: skip
    if is_bot_login(author):
        await append_audit(deps.redis, "command.ignored", **audit, reason="bot")
        return {"outcome": "ignored", "reason": "bot"}
    await _react(inst, request, "eyes")  # at once: before anything else is asked of GitHub
    config, config_error = await _config(inst, owner, name)
    asked = Asked(deps, request, command, config, inst, job_id)
    if request.get("review_id") is not None:
        ignored = await _from_review(asked)
        if ignored is not None:
            await append_audit(deps.redis, "command.ignored", **audit, reason=ignored)
            return {"outcome": "ignored", "reason": ignored}
    permission = await fetch_permission(inst, owner, name, author)
    allowed = decide_permission(command.verb, permission, config)
    if not allowed.ok:
        answer = await _refused(asked, allowed.needed, permission)
    elif config_error is not None:
        answer = Answer(False, replies.render_outcome("config", error=config_error))
    elif not config["triggers.commands"]:
        answer = Answer(False, replies.render_outcome("off"))
    else:
        answer = await HANDLERS[asked.command.verb](asked)
    await _react(inst, request, "rocket" if answer.ok else "confused")
    if answer.reply is not None:
        await _reply_once(asked, answer.reply)
    kind = "command.done" if answer.ok else "command.refused" if not allowed.ok else "command.failed"
    await append_audit(deps.redis, kind, **audit, permission=permission, result=answer.audit or {})
    return {
        "outcome": "done" if answer.ok else "refused" if not allowed.ok else "failed",
        **(answer.audit or {}),
    }


async def _react(inst: Installation, request: JSON, content: str) -> None:
    """React on the command's comment (a review has no reactions API: nothing then)."""
    comment_id = request.get("comment_id")
    if isinstance(comment_id, int):
        owner, name = str(request["repo"]).split("/", 1)
        await add_reaction(inst, owner, name, content, comment_id=comment_id)


async def _from_review(asked: Asked) -> str | None:
    """Turn a changes-requested review into the revise's feedback; the reason to ignore it, or None."""
    if not asked.config["triggers.reviews"]:
        return "triggers.reviews is false"
    review_id = int(asked.request["review_id"])
    comments = await fetch_review_comments(asked.inst, asked.owner, asked.name, asked.number, review_id)
    feedback = render_review_feedback(asked.command.text, comments)
    if not feedback:
        return "the review has no comments"
    asked.command = replace(asked.command, text=feedback)
    return None


async def _config(inst: Installation, owner: str, name: str) -> tuple[RepoConfig, str | None]:
    """The repo config, or the defaults and the problem (permissions are then checked by default)."""
    try:
        return parse_repo_config(await read_repo_config(inst, owner, name)), None
    except RepoConfigError as e:
        return RepoConfig(), str(e)


async def _refused(asked: Asked, needed: str, have: str) -> Answer:
    first = await control.first_refusal(
        asked.deps.redis, asked.repo_id, asked.number, asked.author, job_id=asked.job_id
    )
    text = replies.render_refusal(asked.author, needed, have) if first else None
    return Answer(False, text, {"needed": needed, "have": have})


async def _reply_once(asked: Asked, text: str) -> None:
    store = asked.store
    record = await store.start(asked.job_id, names.RUN_COMMAND, str(asked.request["repo"]), asked.request)
    marker = replies.render_reply_marker(asked.request, asked.job_id)

    async def post() -> int:
        if record.tries > 1:  # an earlier try got this far: it may have posted, then died unrecorded
            posted = await find_marked_comment(asked.inst, asked.owner, asked.name, asked.number, marker)
            if posted is not None:
                log.info(
                    "reply adopted",
                    extra={"job_id": asked.job_id, "repo": asked.request["repo"], "comment_id": posted.id},
                )
                return posted.id
        comment = await create_comment(
            asked.inst, asked.owner, asked.name, asked.number, render_sticky(marker, text)
        )
        return comment.id

    await store.once(record, "reply", post)
    await store.finish(record, "replied", asked.command.verb)
