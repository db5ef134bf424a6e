"""Commits without a checkout, through the Git Data API: blobs, a tree on the base commit's tree,
a commit, and the branch ref. GitHub signs commits made this way by an App: they show as verified.

Each blob, the tree and the commit are content-creating calls, spaced by `Installation.write`.

GitHub refuses to move a ref to a commit that creates or changes a file under `.github/workflows/`
when the App has no `workflows` permission, which Autofix never asks for (the patch guard should
have refused such a patch before). That refusal becomes `WorkflowWriteRefused`: a 422 no retry
can fix, with a sentence that says so instead of GitHub's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.github.client import Installation
from app.github.errors import GitHubError, Unprocessable
from app.github.rest import Json, body, request, segment

FILE_MODE = "100644"
WORKFLOW_REFUSAL = re.compile(
    r"refusing to allow a GitHub App to create or update workflow `?([^`\s]*)", re.I
)
REFUSED_TEXT = "GitHub refused to write a workflow file: the App has no workflows permission"


class WorkflowWriteRefused(Unprocessable):
    """GitHub would not let the App create or change `path` (a workflow file) on a branch."""

    def __init__(self, path: str, status: int, request_id: str | None = None) -> None:
        super().__init__(f"{REFUSED_TEXT} ({path or 'a file under .github/workflows/'})", status, request_id)
        self.path = path


def parse_workflow_refusal(error: GitHubError) -> WorkflowWriteRefused | None:
    """GitHub's workflow refusal (422 from the REST API; matched on its wording, whatever the
    status) as a WorkflowWriteRefused, or None for any other error."""
    found = WORKFLOW_REFUSAL.search(error.message)
    if found is None:
        return None
    return WorkflowWriteRefused(found.group(1), error.status, error.request_id)


def build_tree_entries(changes: Mapping[str, str | None]) -> list[Json]:
    """Tree entries for changed paths: the new text inline (GitHub makes the blob: one write instead
    of one per file), or a null sha to delete. New and changed files get mode 100644: an executable
    bit on a changed file is not kept."""
    return [
        {"path": path, "mode": FILE_MODE, "type": "blob", "sha": None}
        if text is None
        else {"path": path, "mode": FILE_MODE, "type": "blob", "content": text}
        for path, text in sorted(changes.items())
    ]


async def fetch_commit_tree(inst: Installation, owner: str, repo: str, sha: str) -> str:
    response = await inst.read(request("GET", f"/repos/{owner}/{repo}/git/commits/{segment(sha)}"))
    return str(body(response)["tree"]["sha"])


async def commit_files(
    inst: Installation,
    owner: str,
    repo: str,
    base_sha: str,
    changes: Mapping[str, str | None],
    message: str,
) -> str:
    """Commit `changes` (path -> new text, or None to delete) on top of `base_sha`; the new commit's sha.
    The branch is not moved: see `upsert_branch`."""
    if not changes:
        raise ValueError("nothing to commit")
    base_tree = await fetch_commit_tree(inst, owner, repo, base_sha)
    tree_body = {"base_tree": base_tree, "tree": build_tree_entries(changes)}
    tree = body(await inst.write(request("POST", f"/repos/{owner}/{repo}/git/trees", json=tree_body)))
    commit_body = {"message": message, "tree": tree["sha"], "parents": [base_sha]}
    commit = body(await inst.write(request("POST", f"/repos/{owner}/{repo}/git/commits", json=commit_body)))
    return str(commit["sha"])


async def fetch_branch_sha(inst: Installation, owner: str, repo: str, branch: str) -> str:
    response = await inst.read(request("GET", f"/repos/{owner}/{repo}/git/ref/heads/{segment(branch)}"))
    return str(body(response)["object"]["sha"])


async def upsert_branch(
    inst: Installation, owner: str, repo: str, branch: str, sha: str, *, force: bool = False
) -> str:
    """Point `branch` at `sha`: "created", "updated" or "unchanged". An existing branch is moved
    only by a fast-forward unless `force` (GitHub refuses otherwise: Unprocessable). A commit that
    writes a workflow file: WorkflowWriteRefused."""
    new_ref = {"ref": f"refs/heads/{branch}", "sha": sha}
    try:
        await inst.write(request("POST", f"/repos/{owner}/{repo}/git/refs", json=new_ref))
        return "created"
    except GitHubError as e:
        if not (isinstance(e, Unprocessable) and "already exists" in e.message.lower()):
            raise_refusal(e)
            raise
    if await fetch_branch_sha(inst, owner, repo, branch) == sha:
        return "unchanged"  # a retried job: the branch is already where we want it
    path = f"/repos/{owner}/{repo}/git/refs/heads/{segment(branch)}"
    try:
        await inst.write(request("PATCH", path, json={"sha": sha, "force": force}))
    except GitHubError as e:
        raise_refusal(e)
        raise
    return "updated"


def raise_refusal(error: GitHubError) -> None:
    """Raise `error` as a WorkflowWriteRefused if it is GitHub's workflow refusal; else return."""
    refused = parse_workflow_refusal(error)
    if refused is not None:
        raise refused from None
