"""Pull requests from forks: a fork is its own repository (a bare clone of the base, owned by someone
else) and GitHub keeps the PR's head in the base repository as `refs/pull/{n}/head`, so its commits
can be fetched from the base (which is how a bot reads a fork's code without touching the fork).

Also `GET /repos/{o}/{r}/commits/{sha}/pulls`: the pull requests whose head is that commit, forks
included (check runs on a fork's commit carry no `pull_requests`; this is how they are found).
"""

from __future__ import annotations

import subprocess

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, gitstore, pullfacts
from tests.fakes.github.http import paginated, repo_call
from tests.fakes.github.pullshapes import render_pull_simple
from tests.fakes.github.state import GitHubState, Issue, Pull, Repo


def fork_repo(state: GitHubState, base: Repo, owner: str) -> Repo:
    """`owner`'s fork of `base`: the same history, another owner (no installation of ours)."""
    assert state.git_root is not None
    fork = Repo(state.next_id(), state.user(owner), base.name, state.git_root / owner / f"{base.name}.git")
    fork.default_branch, fork.private, fork.created_at = base.default_branch, base.private, state.clock()
    subprocess.run(["git", "clone", "--quiet", "--bare", str(base.path), str(fork.path)], check=True)
    fork.collaborators[owner] = "admin"
    with state.lock:
        state.repos[fork.full_name] = fork
    return fork


def open_fork_pull(state: GitHubState, base: Repo, fork: Repo, branch: str, title: str) -> Issue:
    """A PR from `fork:branch` into the base's default branch (sends pull_request.opened)."""
    user = fork.owner
    now = state.clock()
    with state.lock:
        number = max(base.issues, default=0) + 1
        pull = Pull(branch, base.default_branch, user.login, head_repo=fork)
        issue = Issue(state.next_id(), number, title, None, user, now, now, pull=pull)
        base.issues[number] = issue
    head = gitstore.rev_parse(fork.path, f"refs/heads/{branch}")
    assert head is not None, f"{fork.full_name} has no branch {branch}"
    subprocess.run(
        [
            "git",
            "--git-dir",
            str(base.path),
            "fetch",
            "--quiet",
            str(fork.path),
            f"refs/heads/{branch}:refs/pull/{number}/head",
        ],
        check=True,
    )
    payload = pullfacts.pull_payload(state, base, issue)
    events.emit(state, "pull_request", "opened", base, user, number=number, pull_request=payload)
    return issue


async def commit_pulls(request: Request) -> Response:
    call = repo_call(request)
    sha = request.path_params["sha"]
    found = [
        i
        for i in call.repo.issues.values()
        if i.pull is not None and pullfacts.refresh(call.repo, i).head_sha == sha
    ]
    api = call.state.base_url
    return paginated(
        call, [render_pull_simple(api, call.repo, i, pullfacts.facts_of(call.repo, i)) for i in found]
    )


ROUTES = [Route("/repos/{owner}/{repo}/commits/{sha}/pulls", commit_pulls, methods=["GET"])]
