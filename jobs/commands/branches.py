"""The commands that move branches: `undo` on a bot PR, `apply` on the PR a fix was proven for.

Both go through the Git Data API, never a checkout, and move a branch only by a fast-forward: if
someone pushed in between, GitHub refuses and we say so. What may be done is decided by two pure
functions over what GitHub says (`decide_undo`, `decide_apply`); they return the refusal, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.github.client import Installation
from app.github.conversation import fetch_bot_login
from app.github.errors import Unprocessable
from app.github.git_data import WorkflowWriteRefused, upsert_branch
from app.github.pulls import PullRequest, fetch_pr
from app.github.rest import body, request, segment
from app.job_records import JobRecord
from jobs.commands import replies
from jobs.commands.context import Answer, Asked
from jobs.commands.thread import Thread

PROVEN = frozenset({"pr_opened", "pr_updated"})


@dataclass(frozen=True)
class GitCommit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: str


async def fetch_git_commit(inst: Installation, owner: str, repo: str, sha: str) -> GitCommit:
    data = body(await inst.read(request("GET", f"/repos/{owner}/{repo}/git/commits/{segment(sha)}")))
    parents = tuple(str(p["sha"]) for p in data.get("parents") or [])
    author = str((data.get("author") or {}).get("name") or "")
    return GitCommit(
        str(data["sha"]), str(data["tree"]["sha"]), parents, str(data.get("message") or ""), author
    )


def short(sha: str) -> str:
    return sha[:7]


def decide_undo(thread: Thread, head: GitCommit, bot_login: str) -> str | None:
    pr = thread.pr
    if pr is None or not thread.bot_pr:
        return "`/autofix undo` works on Autofix's own pull requests only."
    if pr.state != "open":
        return "This pull request is closed; there is nothing to undo."
    if head.author != bot_login:
        return (
            f"The last commit on `{pr.head_ref}` ({short(head.sha)}) is not Autofix's, so I leave it alone."
        )
    if len(head.parents) != 1:
        return f"The last commit on `{pr.head_ref}` is a merge; revert it by hand."
    return None


def render_revert_message(head: GitCommit, author: str) -> str:
    subject = head.message.splitlines()[0] if head.message else short(head.sha)
    return (
        f'Revert "{subject}"\n\nThis reverts commit {head.sha}.\nAsked for by {author} with `/autofix undo`.'
    )


async def run_undo(asked: Asked) -> Answer:
    """A revert commit (the parent's tree) on top of the bot's last commit, fast-forwarded onto the branch."""
    thread = await asked.thread()
    if thread.pr is None:
        return Answer(False, replies.render_outcome("not_bot_pr", verb="undo"))
    head = await fetch_git_commit(asked.inst, asked.owner, asked.name, thread.pr.head_sha)
    refusal = decide_undo(thread, head, await fetch_bot_login(asked.inst.app))
    if refusal is not None:
        return Answer(False, refusal)
    parent = await fetch_git_commit(asked.inst, asked.owner, asked.name, head.parents[0])
    commit = {
        "message": render_revert_message(head, asked.author),
        "tree": parent.tree,
        "parents": [head.sha],
    }
    path = f"/repos/{asked.owner}/{asked.name}/git/commits"
    sha = str(body(await asked.inst.write(request("POST", path, json=commit)))["sha"])
    moved = await _fast_forward(asked, thread.pr.head_ref, sha)
    if moved is not None:
        return Answer(False, moved)
    text = f"Reverted {short(head.sha)} on `{thread.pr.head_ref}` with {short(sha)}."
    return Answer(True, text, {"reverted": head.sha, "commit": sha})


def proven_fix(thread: Thread) -> JobRecord | None:
    """The newest job of the thread that opened or updated a PR with a proven fix."""
    return next((r for r in thread.jobs if r.outcome in PROVEN and "commit_sha" in r.checkpoints), None)


def decide_apply(thread: Thread, repo: str, job: JobRecord | None, fix_pr: PullRequest | None) -> str | None:
    pr = thread.pr
    if pr is None or thread.bot_pr:
        return "`/autofix apply` works on the pull request a fix was made for, not on an issue or a bot PR."
    if pr.state != "open":
        return "This pull request is closed."
    if pr.from_fork(repo):
        return "This pull request comes from a fork, where Autofix cannot push; apply the suggestion by hand."
    if job is None or fix_pr is None:
        return "There is no proven fix for this pull request to apply."
    if fix_pr.state != "open":
        return f"The fix in #{fix_pr.number} is closed, so I will not apply it."
    proven_on = str(job.request.get("head_sha") or "")
    if pr.head_sha != proven_on:
        was, now = short(proven_on), short(pr.head_sha)
        return (
            f"The branch moved since the fix was proven (on {was}, now {now}), so it is not proven on "
            "the current head: `/autofix retry` for a fix of the new head."
        )
    if fix_pr.base_ref != pr.head_ref:
        return f"The fix in #{fix_pr.number} is not based on this branch."
    return None


async def run_apply(asked: Asked) -> Answer:
    """Fast-forward this PR's branch to the bot PR's head (the proven fix on exactly this head)."""
    thread = await asked.thread()
    job = proven_fix(thread)
    fix_pr = None
    if job is not None and isinstance(job.checkpoints.get("pull_request"), dict):
        number = int(job.checkpoints["pull_request"]["number"])
        fix_pr = await fetch_pr(asked.inst, asked.owner, asked.name, number)
    refusal = decide_apply(thread, str(asked.request["repo"]), job, fix_pr)
    if refusal is not None or thread.pr is None or fix_pr is None:
        return Answer(False, refusal)
    moved = await _fast_forward(asked, thread.pr.head_ref, fix_pr.head_sha)
    if moved is not None:
        return Answer(False, moved)
    text = f"Applied the fix from #{fix_pr.number} to `{thread.pr.head_ref}` ({short(fix_pr.head_sha)})."
    return Answer(True, text, {"applied": fix_pr.head_sha, "from": fix_pr.number})


async def _fast_forward(asked: Asked, branch: str, sha: str) -> str | None:
    try:
        await upsert_branch(asked.inst, asked.owner, asked.name, branch, sha, force=False)
    except WorkflowWriteRefused as e:  # an Unprocessable too, but the branch did not move
        return f"{e}, so `{branch}` is unchanged."
    except Unprocessable:
        return f"`{branch}` moved while I was working, so I did not push; try again."
    return None
