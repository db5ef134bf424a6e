"""State changes shared by the REST routes and the Sim, each announcing itself as GitHub's webhook.

`emit` builds the payload envelope (`action`, the object, `repository`, `sender`, `installation`)
and hands it to `state.deliver` (the Hookshot), when one is configured.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github import pullfacts
from tests.fakes.github.gitstore import Person
from tests.fakes.github.issueshapes import render_comment, render_issue, render_label
from tests.fakes.github.shapes import node_id, render_repo, render_user
from tests.fakes.github.state import Comment, GitHubState, Issue, Label, Repo, Token, User


def person_of(user: User, when: float) -> Person:
    """A user as a git author or committer (GitHub's noreply address)."""
    return Person(user.login, f"{user.id}+{user.login}@users.noreply.github.com", int(when))


def actor(state: GitHubState, token: Token) -> User:
    """The `<slug>[bot]` user an installation token acts as."""
    app = state.apps[state.installations[token.installation_id].app_id]
    bot = app.bot
    return state.users.setdefault(bot.login, bot)


def installation_for(state: GitHubState, repo: Repo) -> int | None:
    return next((i.id for i in state.installations.values() if i.covers(repo.full_name)), None)


def emit(
    state: GitHubState,
    event: str,
    action: str | None,
    repo: Repo,
    sender: User,
    repository: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Send `event` with `fields`, the repository (as rendered, unless given), sender and installation."""
    if state.deliver is None:
        return
    api = state.base_url
    payload: dict[str, Any] = {"action": action} if action else {}
    payload |= fields
    payload |= {
        "repository": repository or render_repo(api, repo, open_issues(repo)),
        "sender": render_user(api, sender),
    }
    inst = installation_for(state, repo)
    if inst is not None:
        payload["installation"] = {"id": inst, "node_id": node_id("Installation", inst)}
    state.deliver(event, payload)


def open_issues(repo: Repo) -> int:
    return sum(1 for i in repo.issues.values() if i.state == "open")


def issue_payload(state: GitHubState, repo: Repo, issue: Issue) -> dict[str, Any]:
    return render_issue(state.base_url, repo, issue, len(issue.comment_ids))


def open_issue(state: GitHubState, repo: Repo, title: str, body: str | None, user: User) -> Issue:
    now = state.clock()
    with state.lock:
        number = max(repo.issues, default=0) + 1
        issue = Issue(state.next_id(), number, title, body, user, now, now)
        repo.issues[number] = issue
    if issue.pull is None:
        emit(state, "issues", "opened", repo, user, issue=issue_payload(state, repo, issue))
    return issue


def add_comment(state: GitHubState, repo: Repo, issue: Issue, text: str, user: User) -> Comment:
    now = state.clock()
    comment = Comment(state.next_id(), repo.full_name, issue.number, text, user, now, now)
    with state.lock:
        state.comments[comment.id] = comment
        issue.comment_ids.append(comment.id)
    rendered = render_comment(state.base_url, repo, comment)
    emit(
        state,
        "issue_comment",
        "created",
        repo,
        user,
        issue=issue_payload(state, repo, issue),
        comment=rendered,
    )
    return comment


def add_label(state: GitHubState, repo: Repo, issue: Issue, name: str, user: User) -> None:
    label = repo.labels.setdefault(name.lower(), Label(state.next_id(), name))
    if label.name.lower() in (n.lower() for n in issue.labels):
        return
    issue.labels.append(label.name)
    issue.updated_at = state.clock()
    rendered = render_label(state.base_url, repo, label)
    if issue.pull:
        payload = object_payload(state, repo, issue)
        emit(
            state,
            "pull_request",
            "labeled",
            repo,
            user,
            number=issue.number,
            pull_request=payload,
            label=rendered,
        )
    else:
        emit(state, "issues", "labeled", repo, user, issue=object_payload(state, repo, issue), label=rendered)


def object_payload(state: GitHubState, repo: Repo, issue: Issue) -> dict[str, Any]:
    """The `issue`, or for a pull request the full `pull_request` object."""
    if issue.pull:
        return pullfacts.pull_payload(state, repo, issue)
    return issue_payload(state, repo, issue)


def apply_issue_changes(
    state: GitHubState, repo: Repo, issue: Issue, body: dict[str, Any], user: User
) -> None:
    """PATCH semantics: title, body, state (+ state_reason), labels (replace)."""
    if issue.pull:
        pullfacts.refresh(repo, issue)  # pin the shas the pull request closes with
    for name in ("title", "body"):
        if name in body:
            setattr(issue, name, body[name])
    if "labels" in body:
        issue.labels = []
        for name in body["labels"]:
            add_label(state, repo, issue, name if isinstance(name, str) else name["name"], user)
    new_state = body.get("state")
    issue.updated_at = state.clock()
    if new_state in ("open", "closed") and new_state != issue.state:
        issue.state = new_state
        issue.closed_at = state.clock() if new_state == "closed" else None
        issue.state_reason = body.get("state_reason") or (
            "completed" if new_state == "closed" else "reopened"
        )
        action = "closed" if new_state == "closed" else "reopened"
        if issue.pull:
            payload = object_payload(state, repo, issue)
            emit(state, "pull_request", action, repo, user, number=issue.number, pull_request=payload)
        else:
            emit(state, "issues", action, repo, user, issue=object_payload(state, repo, issue))
