"""Publishing a proven fix on GitHub: commit, branch, pull request, labels, and the linking comment.

Every step is find-or-create and checkpointed in the job record (`JobStore.once`), so a retried or
duplicated job converges on one commit, one branch, one PR and one comment. Rendering is done before
this point (`naming`, `body`); this module only carries it out.

A new fix replaces what the bot's branch held (its commit sits on the failing commit, and the branch
is moved to it even when that is not a fast-forward). A follow-up (`/autofix revise`) is a commit on
the branch's head and moves the branch by fast-forward only: if someone pushed meanwhile, GitHub
refuses, and so do we (`BranchMoved`).

A branch write GitHub refuses because the commit creates or changes a workflow file (the App has no
`workflows` permission) is `WorkflowWriteRefused`, raised as it is: never retried, never mistaken for
a moved branch. github_outcomes ends the job with its sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.github.client import Installation
from app.github.conversation import add_labels, upsert_sticky_comment
from app.github.errors import Unprocessable
from app.github.git_data import WorkflowWriteRefused, commit_files, fetch_branch_sha, upsert_branch
from app.github.pulls import open_or_update_pr
from app.job_records import JobRecord, JobStore

LINK_MARKER = "fix-link:{branch}"


@dataclass(frozen=True)
class PublishPlan:
    owner: str
    repo: str
    base_branch: str  # the PR's base: the default branch, or a same-repo PR's head branch
    base_sha: str  # the commit the fix was proven on: the new commit's parent
    head_branch: str  # the bot's branch (jobs.publish.naming.branch_name)
    title: str
    body: str
    commit_message: str
    changes: dict[str, str | None]  # path -> new text, None to delete
    draft: bool = True
    labels: list[str] = field(default_factory=list)
    link_on: int | None = None  # a PR to tell about the fix (the broken same-repo PR)
    follow_up: bool = False  # `base_sha` is the head of `head_branch`: fast-forward it, never force


class BranchMoved(Exception):
    """A follow-up's branch is no longer at the commit it was built on."""

    def __init__(self, branch: str, was: str, now: str) -> None:
        super().__init__(f"{branch} moved from {was} to {now}")
        self.branch, self.was, self.now = branch, was, now


@dataclass(frozen=True)
class Published:
    number: int
    url: str
    commit_sha: str
    created: bool


async def publish_pr(inst: Installation, store: JobStore, record: JobRecord, plan: PublishPlan) -> Published:
    owner, repo = plan.owner, plan.repo

    async def commit() -> str:
        return await commit_files(inst, owner, repo, plan.base_sha, plan.changes, plan.commit_message)

    sha = await store.once(record, "commit_sha", commit)
    if plan.follow_up:
        try:
            await upsert_branch(inst, owner, repo, plan.head_branch, sha, force=False)
        except WorkflowWriteRefused:
            raise
        except Unprocessable:
            now = await fetch_branch_sha(inst, owner, repo, plan.head_branch)
            raise BranchMoved(plan.head_branch, plan.base_sha, now) from None
    else:
        # our own branch: moving it to the newly proven commit is right even when not a fast-forward
        await upsert_branch(inst, owner, repo, plan.head_branch, sha, force=True)

    async def pull() -> dict[str, object]:
        pr, created = await open_or_update_pr(
            inst,
            owner,
            repo,
            head=plan.head_branch,
            base=plan.base_branch,
            title=plan.title,
            body_text=plan.body,
            draft=plan.draft,
        )
        return {"number": pr.number, "url": pr.html_url, "created": created}

    pr = await store.once(record, "pull_request", pull)
    number, url = int(str(pr["number"])), str(pr["url"])
    if plan.labels:
        await add_labels(inst, owner, repo, number, plan.labels)
    if plan.link_on is not None:
        text = f"Autofix proposes a fix for this pull request's failing check in #{number}."
        marker = LINK_MARKER.format(branch=plan.head_branch)
        await upsert_sticky_comment(inst, owner, repo, plan.link_on, marker, text)
    return Published(number, url, sha, bool(pr["created"]))
