"""Pull request review routes: submit a review (with inline comments), list reviews, a review's
comments, and all review comments of a pull request (paginated, oldest first, as on GitHub)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, reviews
from tests.fakes.github.api_pulls import pull_issue
from tests.fakes.github.auth import require
from tests.fakes.github.errors import not_found
from tests.fakes.github.http import paginated, repo_call


async def create_review(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    require(call.token, "pull_requests", "write")
    body = await call.body()
    comments = body.get("comments") if isinstance(body.get("comments"), list) else None
    text = str(body.get("body") or "")
    me = events.actor(call.state, call.token)
    event = str(body.get("event") or "")  # none: a PENDING review
    review = reviews.submit_review(call.state, call.repo, issue, me, event, text, comments)
    return call.ok(reviews.render_review(call.state.base_url, call.repo, review))


async def list_reviews(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    mine = (call.repo.full_name, issue.number)
    found = [r for r in call.state.reviews.values() if (r.repo, r.issue_number) == mine]
    found.sort(key=lambda r: r.id)
    return paginated(call, [reviews.render_review(call.state.base_url, call.repo, r) for r in found])


async def review_comments(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    review = call.state.reviews.get(request.path_params["review_id"])
    if review is None or review.repo != call.repo.full_name or review.issue_number != issue.number:
        raise not_found()
    found = [call.state.review_comments[i] for i in review.comment_ids]
    api = call.state.base_url
    return paginated(call, [reviews.render_review_comment(api, call.repo, c) for c in found])


async def pull_comments(request: Request) -> Response:
    call = repo_call(request)
    issue = pull_issue(call)
    found = [
        c
        for c in call.state.review_comments.values()
        if c.issue_number == issue.number and call.state.reviews[c.review_id].repo == call.repo.full_name
    ]
    found.sort(key=lambda c: c.id, reverse=request.query_params.get("direction") == "desc")
    api = call.state.base_url
    return paginated(call, [reviews.render_review_comment(api, call.repo, c) for c in found])


P = "/repos/{owner}/{repo}/pulls/{number:int}"
ROUTES = [
    Route(f"{P}/reviews", create_review, methods=["POST"]),
    Route(f"{P}/reviews", list_reviews, methods=["GET"]),
    Route(f"{P}/reviews/{{review_id:int}}/comments", review_comments, methods=["GET"]),
    Route(f"{P}/comments", pull_comments, methods=["GET"]),
]
