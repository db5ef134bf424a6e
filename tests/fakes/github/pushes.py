"""The `push` webhook, sent whenever a ref moves: git push over smart HTTP, Git Data API ref writes,
pull request merges and Sim commits. Rendering is pure; `announce_push` reads the commits from git.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github import events, gitstore
from tests.fakes.github.gitstore import ZERO_SHA, CommitInfo
from tests.fakes.github.shapes import iso, render_repo, render_user
from tests.fakes.github.state import GitHubState, Repo, User


def noreply(user: User) -> str:
    return f"{user.id}+{user.login}@users.noreply.github.com"


def render_push_commit(full_name: str, commit: CommitInfo, changes: dict[str, list[str]]) -> dict[str, Any]:
    def person(p: gitstore.Person) -> dict[str, str]:
        return {"name": p.name, "email": p.email, "username": p.name}

    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message.rstrip("\n"),
        "timestamp": iso(commit.committer.date),
        "url": f"https://github.com/{full_name}/commit/{commit.sha}",
        "author": person(commit.author),
        "committer": person(commit.committer),
        **changes,
    }


def render_push_repo(api: str, repo: Repo, pushed_at: float) -> dict[str, Any]:
    """The repository as push payloads carry it: times as epoch seconds, the owner with name/email."""
    owner = render_user(api, repo.owner) | {"name": repo.owner.login, "email": None}
    return render_repo(api, repo) | {
        "created_at": int(repo.created_at),
        "pushed_at": int(pushed_at),
        "owner": owner,
        "stargazers": 0,
        "master_branch": repo.default_branch,
    }


def render_push(
    api: str, repo: Repo, ref: str, before: str, after: str, commits: list[dict[str, Any]], forced: bool
) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": after == ZERO_SHA,
        "forced": forced,
        "base_ref": None,
        "compare": f"https://github.com/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": commits,
        "head_commit": commits[-1] if commits else None,
    }


def commit_payload(repo: Repo, sha: str) -> dict[str, Any]:
    commit = gitstore.read_commit(repo.path, sha)
    return render_push_commit(repo.full_name, commit, gitstore.changed_paths(repo.path, sha))


def announce_push(
    state: GitHubState, repo: Repo, ref: str, before: str | None, after: str | None, pusher: User
) -> None:
    """Send `push` for `ref` moving from `before` to `after` (None: the ref did not / no longer exists)."""
    if state.deliver is None or before == after:
        return
    before, after = before or ZERO_SHA, after or ZERO_SHA
    forced = before != ZERO_SHA and after != ZERO_SHA and not gitstore.is_ancestor(repo.path, before, after)
    shas = [] if after == ZERO_SHA else gitstore.new_commits(repo.path, before, after, ref)
    commits = [commit_payload(repo, sha) for sha in shas]
    api = state.base_url
    payload = render_push(api, repo, ref, before, after, commits, forced)
    if after != ZERO_SHA and not commits:  # moved to a commit the repo already had: still the head commit
        payload["head_commit"] = commit_payload(repo, after)
    payload["pusher"] = {"name": pusher.login, "email": noreply(pusher)}
    events.emit(state, "push", None, repo, pusher, render_push_repo(api, repo, state.clock()), **payload)


def announce_ref_changes(
    state: GitHubState, repo: Repo, old: dict[str, str], new: dict[str, str], pusher: User
) -> None:
    """A push for every ref that differs between two snapshots of `gitstore.list_refs`."""
    for ref in sorted(set(old) | set(new)):
        if old.get(ref) != new.get(ref):
            announce_push(state, repo, ref, old.get(ref), new.get(ref), pusher)
