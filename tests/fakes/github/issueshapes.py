"""Pure renderers for issues, labels, comments, reactions and collaborator permissions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.fakes.github.shapes import iso, node_id, render_user
from tests.fakes.github.state import Comment, Issue, Label, Reaction, Repo, User

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
ROLE_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}


def render_label(api: str, repo: Repo, label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "node_id": node_id("Label", label.id),
        "url": f"{api}/repos/{repo.full_name}/labels/{label.name}",
        "name": label.name,
        "description": label.description,
        "color": label.color,
        "default": label.default,
        "archived_at": None,
        "archived_by": None,
    }


def render_rollup(url: str, reactions: list[Reaction]) -> dict[str, Any]:
    counts = Counter(r.content for r in reactions)
    return {"url": url, "total_count": len(reactions), **{c: counts[c] for c in REACTIONS}}


def association(repo: Repo, user: User) -> str:
    if user.login == repo.owner.login:
        return "OWNER"
    return "COLLABORATOR" if user.login in repo.collaborators else "NONE"


def render_issue(api: str, repo: Repo, issue: Issue, comments: int) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/issues/{issue.number}"
    kind = "pull" if issue.pull else "issues"
    body: dict[str, Any] = {
        "url": url,
        "repository_url": f"{api}/repos/{repo.full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "timeline_url": f"{url}/timeline",
        "html_url": f"https://github.com/{repo.full_name}/{kind}/{issue.number}",
        "id": issue.id,
        "node_id": node_id("Issue", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": render_user(api, issue.user),
        "labels": [render_label(api, repo, repo.labels[name.lower()]) for name in issue.labels],
        "state": issue.state,
        "state_reason": issue.state_reason,
        "locked": issue.locked,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": comments,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "author_association": association(repo, issue.user),
        "active_lock_reason": None,
        "body": issue.body,
        "reactions": render_rollup(f"{url}/reactions", issue.reactions),
        "performed_via_github_app": None,
    }
    if issue.pull:
        pull_url = f"{api}/repos/{repo.full_name}/pulls/{issue.number}"
        body["pull_request"] = {
            "url": pull_url,
            "html_url": body["html_url"],
            "diff_url": body["html_url"] + ".diff",
            "patch_url": body["html_url"] + ".patch",
            "merged_at": iso(issue.pull.merged_at),
        }
    return body


def render_comment(api: str, repo: Repo, comment: Comment) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/issues/comments/{comment.id}"
    kind = "pull" if repo.issues[comment.issue_number].pull else "issues"
    return {
        "url": url,
        "html_url": f"https://github.com/{repo.full_name}/{kind}/{comment.issue_number}#issuecomment-{comment.id}",
        "issue_url": f"{api}/repos/{repo.full_name}/issues/{comment.issue_number}",
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "user": render_user(api, comment.user),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "author_association": association(repo, comment.user),
        "body": comment.body,
        "reactions": render_rollup(f"{url}/reactions", comment.reactions),
        "performed_via_github_app": None,
    }


def render_reaction(api: str, reaction: Reaction) -> dict[str, Any]:
    return {
        "id": reaction.id,
        "node_id": node_id("Reaction", reaction.id),
        "user": render_user(api, reaction.user),
        "content": reaction.content,
        "created_at": iso(reaction.created_at),
    }


def render_permission(api: str, repo: Repo, user: User) -> dict[str, Any]:
    role = repo.collaborators.get(user.login)
    permission = ROLE_PERMISSION.get(role or "", "none")
    levels = {"admin": 3, "write": 2, "read": 1, "none": 0}[permission]
    collaborator = render_user(api, user) | {
        "role_name": role or "none",
        "permissions": {
            "admin": levels >= 3,
            "maintain": role in ("admin", "maintain"),
            "push": levels >= 2,
            "triage": levels >= 1,
            "pull": levels >= 1,
        },
    }
    return {"permission": permission, "role_name": role or "none", "user": collaborator}
