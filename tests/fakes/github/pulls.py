"""Pull requests as state changes, shared by the REST routes and the Sim: open, merge (in the bare repo).

Each one checks what GitHub checks, answers with GitHub's error wording, and sends the
`pull_request` webhook GitHub would send. Closing and reopening go through
`events.apply_issue_changes`, as they do on GitHub's issue and pull request endpoints alike.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github import events, gitstore, pullfacts, pushes
from tests.fakes.github.errors import ApiError
from tests.fakes.github.gitstore import Person
from tests.fakes.github.state import GitHubState, Issue, Pull, Repo, User

NOT_MERGEABLE = "Pull Request is not mergeable"
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
CANNOT_REBASE = "This branch can't be rebased"
NO_DRAFTS = "Draft pull requests are not supported in this repository."
WEB_FLOW = Person("GitHub", "noreply@github.com", 0)  # the committer of merges made on github.com


def validation_failed(error: dict[str, Any]) -> ApiError:
    return ApiError(422, "Validation Failed", [{"resource": "PullRequest"} | error])


def parse_head(repo: Repo, head: str) -> str:
    """The branch of `head` (`branch` or `owner:branch`); forks are not modelled."""
    owner, _, branch = head.rpartition(":")
    if owner and owner.lower() != repo.owner.login.lower():
        raise validation_failed({"field": "head", "code": "invalid"})
    return branch


def check_new_pull(repo: Repo, branch: str, base: str, draft: bool) -> None:
    base_sha = gitstore.rev_parse(repo.path, f"refs/heads/{base}")
    if base_sha is None:
        raise validation_failed({"field": "base", "code": "invalid"})
    head_sha = gitstore.rev_parse(repo.path, f"refs/heads/{branch}")
    if head_sha is None:
        raise validation_failed({"field": "head", "code": "invalid"})
    if any(i.pull and i.state == "open" and i.pull.head_ref == branch for i in repo.issues.values()):
        message = f"A pull request already exists for {repo.owner.login}:{branch}."
        raise validation_failed({"code": "custom", "message": message})
    if gitstore.count_commits(repo.path, base_sha, head_sha) == 0:
        raise validation_failed({"code": "custom", "message": f"No commits between {base} and {branch}"})
    if draft and not repo.allow_drafts:
        raise ApiError(422, NO_DRAFTS)


def open_pull(
    state: GitHubState,
    repo: Repo,
    head: str,
    base: str,
    title: str,
    body: str | None,
    user: User,
    draft: bool = False,
) -> Issue:
    """Open a pull request from `head` into `base` (sends pull_request.opened)."""
    branch = parse_head(repo, head)
    now = state.clock()
    with state.lock:
        check_new_pull(repo, branch, base, draft)
        number = max(repo.issues, default=0) + 1
        pull = Pull(branch, base, repo.owner.login, draft=draft)
        issue = Issue(state.next_id(), number, title, body, user, now, now, pull=pull)
        repo.issues[number] = issue
    payload = pullfacts.pull_payload(state, repo, issue)
    events.emit(state, "pull_request", "opened", repo, user, number=number, pull_request=payload)
    return issue


def _merge_commit(
    state: GitHubState, repo: Repo, issue: Issue, user: User, method: str, text: dict[str, str | None]
) -> str:
    pull = pullfacts.pull_of(issue)
    if method == "rebase":
        if not gitstore.is_ancestor(repo.path, pull.base_sha, pull.head_sha):
            raise ApiError(405, CANNOT_REBASE)
        return pull.head_sha  # already on top of the base: a fast-forward
    tree = gitstore.merge_tree(repo.path, pull.base_sha, pull.head_sha)
    if tree is None:
        raise ApiError(405, NOT_MERGEABLE)
    if method == "squash":
        title, parents = f"{issue.title} (#{issue.number})", [pull.base_sha]
    else:
        title = f"Merge pull request #{issue.number} from {pull.head_owner}/{pull.head_ref}"
        parents = [pull.base_sha, pull.head_sha]
    message = f"{text.get('commit_title') or title}\n\n{text.get('commit_message') or issue.title}\n"
    now = state.clock()
    committer = Person(WEB_FLOW.name, WEB_FLOW.email, int(now))
    sha = gitstore.commit_tree(repo.path, tree, parents, message, events.person_of(user, now), committer)
    repo.verified.add(sha)  # GitHub signs the merges it makes
    return sha


def merge_pull(
    state: GitHubState,
    repo: Repo,
    issue: Issue,
    user: User,
    method: str = "merge",
    text: dict[str, str | None] | None = None,
    expected_sha: str | None = None,
) -> str:
    """Merge into the base branch of the bare repo (sends pull_request.closed with merged: true)."""
    with state.lock:
        pull = pullfacts.refresh(repo, issue)
        if issue.state != "open" or pull.merged or pull.draft:
            raise ApiError(405, NOT_MERGEABLE)
        if expected_sha and expected_sha != pull.head_sha:
            raise ApiError(409, HEAD_MODIFIED)
        sha = _merge_commit(state, repo, issue, user, method, text or {})
        gitstore.update_ref(repo.path, f"refs/heads/{pull.base_ref}", sha, pull.base_sha)
        pushes.announce_push(state, repo, f"refs/heads/{pull.base_ref}", pull.base_sha, sha, user)
        now = state.clock()
        pull.merged, pull.merged_at, pull.merged_by, pull.merge_commit_sha = True, now, user, sha
        issue.state, issue.closed_at, issue.updated_at = "closed", now, now
    payload = pullfacts.pull_payload(state, repo, issue)
    events.emit(state, "pull_request", "closed", repo, user, number=issue.number, pull_request=payload)
    return sha
