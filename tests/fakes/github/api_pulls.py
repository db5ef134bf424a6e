"""Pull request routes: create, list (state/head/base filters, paginated), get, update, merge."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, gitstore, pullfacts, pulls
from tests.fakes.github.auth import require
from tests.fakes.github.errors import ApiError, invalid, not_found
from tests.fakes.github.http import RepoCall, paginated, repo_call
from tests.fakes.github.pullshapes import render_merge_result, render_pull, render_pull_simple
from tests.fakes.github.state import Issue

DIFF_MEDIA = "application/vnd.github.diff"
MERGE_METHODS = ("merge", "squash", "rebase")


def pull_issue(call: RepoCall) -> Issue:
    number = call.request.path_params["number"]
    issue = call.repo.issues.get(number)
    if issue is None or issue.pull is None:
        raise not_found()
    return issue


def pull_json(call: RepoCall, issue: Issue) -> dict[str, Any]:
    return render_pull(call.state.base_url, call.repo, issue, pullfacts.facts_of(call.repo, issue))


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(f"{name} wasn't supplied.", "PullRequest", name, "missing_field")
    return value


async def create_pull(request: Request) -> Response:
    call = repo_call(request)
    require(call.token, "pull_requests", "write")
    body = await call.body()
    head, base, title = (_required(body, name) for name in ("head", "base", "title"))
    text = body.get("body") if isinstance(body.get("body"), str) else None
    me = events.actor(call.state, call.token)
    issue = pulls.open_pull(call.state, call.repo, head, base, title, text, me, bool(body.get("draft")))
    headers = {"location": f"{call.state.base_url}/repos/{call.repo.full_name}/pulls/{issue.number}"}
    return call.ok(pull_json(call, issue), 201, headers)


def matches(issue: Issue, state: str, head: str | None, base: str | None) -> bool:
    pull = issue.pull
    if pull is None or (state != "all" and issue.state != state):
        return False
    if head is not None and f"{pull.head_owner}:{pull.head_ref}".lower() != head.lower():
        return False
    return base is None or pull.base_ref == base


async def list_pulls(request: Request) -> Response:
    call = repo_call(request)
    query = request.query_params
    head = query.get("head")
    if head is not None and ":" not in head:
        head = f"{call.repo.owner.login}:{head}"  # GitHub reads a bare branch as the repo owner's
    state = query.get("state") or "open"
    found = [i for i in call.repo.issues.values() if matches(i, state, head, query.get("base"))]
    found.sort(key=lambda i: i.number, reverse=query.get("direction", "desc") == "desc")
    api = call.state.base_url
    return paginated(
        call, [render_pull_simple(api, call.repo, i, pullfacts.facts_of(call.repo, i)) for i in found]
    )


async def get_pull(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    if DIFF_MEDIA in request.headers.get("accept", ""):
        pull = pullfacts.refresh(call.repo, issue)
        diff = gitstore.git(call.repo.path, "diff", f"{pull.base_sha}...{pull.head_sha}")
        return Response(diff, 200, media_type="text/plain; charset=utf-8")
    return call.ok(pull_json(call, issue))


async def update_pull(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    require(call.token, "pull_requests", "write")
    body = await call.body()
    base = body.get("base")
    if base is not None:
        if gitstore.rev_parse(call.repo.path, f"refs/heads/{base}") is None:
            raise pulls.validation_failed({"field": "base", "code": "invalid"})
        pullfacts.pull_of(issue).base_ref = base
    if "maintainer_can_modify" in body:
        pullfacts.pull_of(issue).maintainer_can_modify = bool(body["maintainer_can_modify"])
    fields: dict[str, Any] = {k: body[k] for k in ("title", "body", "state") if k in body}
    events.apply_issue_changes(call.state, call.repo, issue, fields, events.actor(call.state, call.token))
    return call.ok(pull_json(call, issue))


async def merge_pull(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    require(call.token, "contents", "write")
    body = await call.body()
    method = body.get("merge_method") or "merge"
    if method not in MERGE_METHODS:
        raise invalid(f"merge_method is not included in the list: {method}", "PullRequest", "merge_method")
    text = {k: body.get(k) for k in ("commit_title", "commit_message")}
    me = events.actor(call.state, call.token)
    sha = pulls.merge_pull(call.state, call.repo, issue, me, method, text, body.get("sha"))
    return call.ok(render_merge_result(sha))


async def is_merged(request: Request) -> Response:
    call = repo_call(request)
    if not pullfacts.pull_of(pull_issue(call)).merged:
        raise ApiError(404, "Not Found")
    return call.ok(None, 204)


P = "/repos/{owner}/{repo}/pulls"
ROUTES = [
    Route(P, create_pull, methods=["POST"]),
    Route(P, list_pulls, methods=["GET"]),
    Route(f"{P}/{{number:int}}", get_pull, methods=["GET"]),
    Route(f"{P}/{{number:int}}", update_pull, methods=["PATCH"]),
    Route(f"{P}/{{number:int}}/merge", merge_pull, methods=["PUT"]),
    Route(f"{P}/{{number:int}}/merge", is_merged, methods=["GET"]),
]
