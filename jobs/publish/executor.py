"""Publishing a proven fix on GitHub: commit, branch, pull request, labels, and the linking comment.

Every step is find-or-create and checkpointed in the job record (`JobStore.once`), so a retried or
duplicated job converges on one commit, one branch, one PR and one comment. Rendering is done before
this point (`naming`, `body`); this module only carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.github.client import Installation
from app.github.conversation import add_labels, upsert_sticky_comment
from app.github.git_data import commit_files, upsert_branch
from app.github.pulls import open_or_update_pr
from jobs.record import JobRecord, JobStore

LINK_MARKER = "fix-link:{branch}"


@dataclass(frozen=True)
class PublishPlan:
    owner: str
    repo: str
    base_branch: str  # the PR's base: the default branch, or a same-repo PR's head branch
    base_sha: str  # the commit the fix was proven on
    head_branch: str  # the bot's branch (jobs.publish.naming.branch_name)
    title: str
    body: str
    commit_message: str
    changes: dict[str, str | None]  # path -> new text, None to delete
    draft: bool = True
    labels: list[str] = field(default_factory=list)
    link_on: int | None = None  # a PR to tell about the fix (the broken same-repo PR)


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
    # our own branch: moving it to the newly proven commit is right even when it is not a fast-forward
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
