"""Pure renderers for pull requests: the full object (GET/PATCH/POST, webhooks) and the list item.

What git knows (head and base shas, mergeability, diff stats) comes in as `PullFacts`, computed by
`pulls.facts_of`, so rendering stays free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.github.issueshapes import association, render_label
from tests.fakes.github.shapes import iso, node_id, render_repo, render_user
from tests.fakes.github.state import Issue, Pull, Repo

# keys of the full object that the list endpoint (`PullRequestSimple`) leaves out
DETAIL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


@dataclass(frozen=True)
class PullFacts:
    head_sha: str
    base_sha: str
    mergeable: bool | None  # None: not computed (GitHub's answer right after a merge)
    mergeable_state: str  # clean, dirty, draft, unknown
    commits: int
    additions: int
    deletions: int
    changed_files: int


def render_end(api: str, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": render_user(api, repo.owner),
        "repo": render_repo(api, repo),
    }


def _links(api: str, repo: Repo, number: int, head_sha: str) -> dict[str, dict[str, str]]:
    pulls, issue = f"{api}/repos/{repo.full_name}/pulls", f"{api}/repos/{repo.full_name}/issues/{number}"
    hrefs = {
        "self": f"{pulls}/{number}",
        "html": f"https://github.com/{repo.full_name}/pull/{number}",
        "issue": issue,
        "comments": f"{issue}/comments",
        "review_comments": f"{pulls}/{number}/comments",
        "review_comment": f"{pulls}/comments{{/number}}",
        "commits": f"{pulls}/{number}/commits",
        "statuses": f"{api}/repos/{repo.full_name}/statuses/{head_sha}",
    }
    return {name: {"href": href} for name, href in hrefs.items()}


def render_pull(api: str, repo: Repo, issue: Issue, facts: PullFacts) -> dict[str, Any]:
    """The full pull request (`PullRequest`), as GET /pulls/{n} and the pull_request webhooks carry it."""
    pull = issue.pull
    assert pull is not None
    links = _links(api, repo, issue.number, facts.head_sha)
    return {
        "url": links["self"]["href"],
        "id": issue.id,
        "node_id": node_id("PullRequest", issue.id),
        "html_url": links["html"]["href"],
        "diff_url": links["html"]["href"] + ".diff",
        "patch_url": links["html"]["href"] + ".patch",
        "issue_url": links["issue"]["href"],
        "commits_url": links["commits"]["href"],
        "review_comments_url": links["review_comments"]["href"],
        "review_comment_url": links["review_comment"]["href"],
        "comments_url": links["comments"]["href"],
        "statuses_url": links["statuses"]["href"],
        "number": issue.number,
        "state": issue.state,
        "locked": issue.locked,
        "title": issue.title,
        "user": render_user(api, issue.user),
        "body": issue.body,
        "labels": [render_label(api, repo, repo.labels[name.lower()]) for name in issue.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "merged_at": iso(pull.merged_at),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": render_end(api, pull.head_repo or repo, pull.head_ref, facts.head_sha),
        "base": render_end(api, repo, pull.base_ref, facts.base_sha),
        "_links": links,
        "author_association": association(repo, issue.user),
        "auto_merge": None,
        "draft": pull.draft,
        **_detail(api, issue, pull, facts),
    }


def _detail(api: str, issue: Issue, pull: Pull, facts: PullFacts) -> dict[str, Any]:
    return {
        "merged": pull.merged,
        "mergeable": facts.mergeable,
        "rebaseable": facts.mergeable,
        "mergeable_state": facts.mergeable_state,
        "merged_by": None if pull.merged_by is None else render_user(api, pull.merged_by),
        "comments": len(issue.comment_ids),
        "review_comments": 0,
        "maintainer_can_modify": pull.maintainer_can_modify,
        "commits": facts.commits,
        "additions": facts.additions,
        "deletions": facts.deletions,
        "changed_files": facts.changed_files,
    }


def render_pull_simple(api: str, repo: Repo, issue: Issue, facts: PullFacts) -> dict[str, Any]:
    """A list item (`PullRequestSimple`): the full object without the computed detail fields."""
    full = render_pull(api, repo, issue, facts)
    return {k: v for k, v in full.items() if k not in DETAIL_ONLY}


def render_merge_result(sha: str) -> dict[str, Any]:
    return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
