"""What git says about a pull request: its head and base shas, mergeability and diff stats.

While a pull request is open its shas follow the branches (the last ones seen are kept, so a deleted
head branch still renders); closing or merging pins them, as GitHub does.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github import gitstore
from tests.fakes.github.pullshapes import PullFacts, render_pull
from tests.fakes.github.state import GitHubState, Issue, Pull, Repo


def pull_of(issue: Issue) -> Pull:
    assert issue.pull is not None, f"#{issue.number} is an issue, not a pull request"
    return issue.pull


def refresh(repo: Repo, issue: Issue) -> Pull:
    """Follow the branches of an open pull request; a closed one keeps its pinned shas."""
    pull = pull_of(issue)
    if issue.state == "open":
        head = (
            f"refs/pull/{issue.number}/head" if pull.head_repo is not None else f"refs/heads/{pull.head_ref}"
        )
        pull.head_sha = gitstore.rev_parse(repo.path, head) or pull.head_sha
        pull.base_sha = gitstore.rev_parse(repo.path, f"refs/heads/{pull.base_ref}") or pull.base_sha
    return pull


def mergeability(repo: Repo, pull: Pull) -> tuple[bool | None, str]:
    if pull.merged:
        return None, "unknown"
    clean = gitstore.merge_tree(repo.path, pull.base_sha, pull.head_sha) is not None
    if pull.draft:
        return clean, "draft"
    return clean, "clean" if clean else "dirty"


def facts_of(repo: Repo, issue: Issue) -> PullFacts:
    pull = refresh(repo, issue)
    mergeable, mergeable_state = mergeability(repo, pull)
    additions, deletions, files = gitstore.diff_stats(repo.path, pull.base_sha, pull.head_sha)
    return PullFacts(
        head_sha=pull.head_sha,
        base_sha=pull.base_sha,
        mergeable=mergeable,
        mergeable_state=mergeable_state,
        commits=gitstore.count_commits(repo.path, pull.base_sha, pull.head_sha),
        additions=additions,
        deletions=deletions,
        changed_files=files,
    )


def pull_payload(state: GitHubState, repo: Repo, issue: Issue) -> dict[str, Any]:
    return render_pull(state.base_url, repo, issue, facts_of(repo, issue))
