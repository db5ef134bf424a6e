"""Issues, issue comments, labels, reactions and collaborator permissions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events
from tests.fakes.github.auth import require
from tests.fakes.github.errors import ApiError, invalid, not_found
from tests.fakes.github.http import RepoCall, paginated, repo_call
from tests.fakes.github.issueshapes import (
    REACTIONS,
    render_comment,
    render_issue,
    render_label,
    render_permission,
    render_reaction,
)
from tests.fakes.github.state import Comment, Issue, Reaction


def issue_of(call: RepoCall) -> Issue:
    number = call.request.path_params["number"]
    issue = call.repo.issues.get(int(number)) if number.isdigit() else None
    if issue is None:
        raise not_found()
    return issue


def comment_of(call: RepoCall) -> Comment:
    comment = call.state.comments.get(int(call.request.path_params["comment_id"]))
    if comment is None or comment.repo != call.repo.full_name:
        raise not_found()
    return comment


def issue_json(call: RepoCall, issue: Issue) -> dict[str, object]:
    return render_issue(call.state.base_url, call.repo, issue, len(issue.comment_ids))


async def get_issue(request: Request) -> Response:
    call = repo_call(request)
    return call.ok(issue_json(call, issue_of(call)))


async def list_issues(request: Request) -> Response:
    """GET /repos/{o}/{r}/issues: newest first; `state` (open by default) and `labels` (comma list, all
    required, any case) filter; pull requests are listed too, carrying a `pull_request` key, as on GitHub."""
    call = repo_call(request)
    query = call.request.query_params
    state = query.get("state") or "open"
    wanted = {n.strip().lower() for n in (query.get("labels") or "").split(",") if n.strip()}
    found = [
        i
        for i in sorted(call.repo.issues.values(), key=lambda i: -i.number)
        if state in ("all", i.state) and wanted <= {n.lower() for n in i.labels}
    ]
    return paginated(call, [issue_json(call, i) for i in found])


async def create_issue(request: Request) -> Response:
    """POST /repos/{o}/{r}/issues: `title` required (422 otherwise), `body`, `labels` (created if new)."""
    call = repo_call(request)
    require(call.token, "issues", "write")
    body = await call.body()
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise invalid("title wasn't supplied.", "Issue", "title", "missing_field")
    me = events.actor(call.state, call.token)
    issue = events.open_issue(call.state, call.repo, title, body.get("body"), me)
    for name in body.get("labels") or []:
        events.add_label(call.state, call.repo, issue, name, me)
    return call.ok(issue_json(call, issue), 201)


async def update_issue(request: Request) -> Response:
    call = repo_call(request)
    issue = issue_of(call)
    require(call.token, "pull_requests" if issue.pull else "issues", "write")
    body = await call.body()
    events.apply_issue_changes(call.state, call.repo, issue, body, events.actor(call.state, call.token))
    return call.ok(issue_json(call, issue))


async def list_comments(request: Request) -> Response:
    call = repo_call(request)
    issue = issue_of(call)
    comments = [call.state.comments[i] for i in issue.comment_ids]
    return paginated(call, [render_comment(call.state.base_url, call.repo, c) for c in comments])


async def create_comment(request: Request) -> Response:
    call = repo_call(request)
    issue = issue_of(call)
    require(call.token, "issues", "write")
    text = (await call.body()).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("body wasn't supplied.", "IssueComment", "body", "missing_field")
    comment = events.add_comment(call.state, call.repo, issue, text, events.actor(call.state, call.token))
    return call.ok(render_comment(call.state.base_url, call.repo, comment), 201)


async def get_comment(request: Request) -> Response:
    call = repo_call(request)
    return call.ok(render_comment(call.state.base_url, call.repo, comment_of(call)))


async def update_comment(request: Request) -> Response:
    call = repo_call(request)
    comment = comment_of(call)
    require(call.token, "issues", "write")
    text = (await call.body()).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("body wasn't supplied.", "IssueComment", "body", "missing_field")
    comment.body, comment.updated_at = text, call.state.clock()
    return call.ok(render_comment(call.state.base_url, call.repo, comment))


async def add_labels(request: Request) -> Response:
    call = repo_call(request)
    issue = issue_of(call)
    require(call.token, "issues", "write")
    names = (await call.body()).get("labels") or []
    for name in names:
        events.add_label(call.state, call.repo, issue, name, events.actor(call.state, call.token))
    api = call.state.base_url
    return call.ok([render_label(api, call.repo, call.repo.labels[n.lower()]) for n in issue.labels])


async def remove_label(request: Request) -> Response:
    call = repo_call(request)
    issue = issue_of(call)
    require(call.token, "issues", "write")
    name = request.path_params["name"]
    if name.lower() not in [n.lower() for n in issue.labels]:
        raise ApiError(404, "Label does not exist")
    issue.labels = [n for n in issue.labels if n.lower() != name.lower()]
    api = call.state.base_url
    return call.ok([render_label(api, call.repo, call.repo.labels[n.lower()]) for n in issue.labels])


async def _react(call: RepoCall, reactions: list[Reaction]) -> Response:
    content = (await call.body()).get("content")
    if content not in REACTIONS:
        raise invalid(f"content is not included in the list: {content}", "Reaction", "content")
    me = events.actor(call.state, call.token)
    mine = next((r for r in reactions if r.content == content and r.user.login == me.login), None)
    if mine is not None:
        return call.ok(render_reaction(call.state.base_url, mine), 200)
    reaction = Reaction(call.state.next_id(), content, me, call.state.clock())
    reactions.append(reaction)
    return call.ok(render_reaction(call.state.base_url, reaction), 201)


async def react_to_issue(request: Request) -> Response:
    call = repo_call(request)
    return await _react(call, issue_of(call).reactions)


async def react_to_comment(request: Request) -> Response:
    call = repo_call(request)
    return await _react(call, comment_of(call).reactions)


async def get_permission(request: Request) -> Response:
    call = repo_call(request)
    login = request.path_params["username"]
    if login not in call.state.users:
        raise ApiError(404, f"{login} is not a user")
    return call.ok(render_permission(call.state.base_url, call.repo, call.state.users[login]))


P = "/repos/{owner}/{repo}"
ROUTES = [
    Route(f"{P}/issues/comments/{{comment_id:int}}", get_comment, methods=["GET"]),
    Route(f"{P}/issues/comments/{{comment_id:int}}", update_comment, methods=["PATCH"]),
    Route(f"{P}/issues/comments/{{comment_id:int}}/reactions", react_to_comment, methods=["POST"]),
    Route(f"{P}/issues", list_issues, methods=["GET"]),
    Route(f"{P}/issues", create_issue, methods=["POST"]),
    Route(f"{P}/issues/{{number}}", get_issue, methods=["GET"]),
    Route(f"{P}/issues/{{number}}", update_issue, methods=["PATCH"]),
    Route(f"{P}/issues/{{number}}/comments", list_comments, methods=["GET"]),
    Route(f"{P}/issues/{{number}}/comments", create_comment, methods=["POST"]),
    Route(f"{P}/issues/{{number}}/labels", add_labels, methods=["POST"]),
    Route(f"{P}/issues/{{number}}/labels/{{name}}", remove_label, methods=["DELETE"]),
    Route(f"{P}/issues/{{number}}/reactions", react_to_issue, methods=["POST"]),
    Route(f"{P}/collaborators/{{username}}/permission", get_permission, methods=["GET"]),
]
