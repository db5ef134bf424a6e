"""Pull request reviews as state changes, and their pure renderers: submit a review with inline
comments (sends `pull_request_review.submitted`, and `pull_request_review_comment.created` for each
comment, as GitHub does), and the REST shapes of a review and of a review comment.

An inline comment must sit on a line of the new side of the pull request's diff, as on GitHub:
a path the diff does not touch is "Path could not be resolved", a line outside every hunk "must be
part of the diff" (both 422 "Unprocessable Entity").
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.github import events, gitstore, pullfacts
from tests.fakes.github.errors import ApiError
from tests.fakes.github.issueshapes import association
from tests.fakes.github.shapes import iso, node_id, render_user
from tests.fakes.github.state import GitHubState, Issue, Repo, Review, ReviewComment, User

EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
PATH_UNRESOLVED = "Path could not be resolved"
LINE_NOT_IN_DIFF = "Pull request review thread line must be part of the diff"
OWN_PULL = "Can not request changes on your own pull request"
BODY_NEEDED = "Body is required when using REQUEST_CHANGES or COMMENT without inline comments"
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def unprocessable(*reasons: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", list(reasons))


def locate(file_diff: str, line: int) -> tuple[int, str] | None:
    """(position, diff hunk up to the line) of new-side `line` in one file's diff, or None."""
    position, hunk, new_line = 0, [], 0
    started = False
    for text in file_diff.splitlines():
        match = _HUNK.match(text)
        if match:
            if started:
                position += 1
            started, hunk, new_line = True, [text], int(match.group(1))
            continue
        if not started:
            continue
        position += 1
        hunk.append(text)
        if text.startswith("-"):
            continue
        if new_line == line:
            return position, "\n".join(hunk)
        new_line += 1
    return None


def submit_review(
    state: GitHubState,
    repo: Repo,
    issue: Issue,
    user: User,
    event: str,
    body: str = "",
    comments: list[dict[str, Any]] | None = None,
) -> Review:
    """`user` reviews the pull request at its head (422s as GitHub answers them). Without an
    `event` the review stays PENDING: saved, not submitted, and no webhook is sent."""
    pull = pullfacts.refresh(repo, issue)
    if event and event not in EVENTS:
        raise unprocessable(f"Unexpected event: {event}")
    if event == "REQUEST_CHANGES" and user.login == issue.user.login:
        raise unprocessable(OWN_PULL)
    if event in ("REQUEST_CHANGES", "COMMENT") and not body.strip() and not comments:
        raise unprocessable(BODY_NEEDED)
    now = state.clock()
    kind, submitted = (EVENTS[event], now) if event else ("PENDING", None)
    review = Review(state.next_id(), repo.full_name, issue.number, user, kind, body, pull.head_sha, submitted)
    made = [_comment(state, repo, pull.base_sha, pull.head_sha, review, c, now) for c in comments or []]
    with state.lock:
        state.reviews[review.id] = review
        for c in made:
            state.review_comments[c.id] = c
            review.comment_ids.append(c.id)
    if review.submitted_at is None:
        return review
    api, pull_json = state.base_url, pullfacts.pull_payload(state, repo, issue)
    for c in made:
        rendered = render_review_comment(api, repo, c)
        events.emit(state, "pull_request_review_comment", "created", repo, user, comment=rendered,
                    pull_request=pull_json)  # fmt: skip
    hook = render_review(api, repo, review) | {"state": review.state.lower()}  # webhooks: lower case
    events.emit(state, "pull_request_review", "submitted", repo, user, review=hook, pull_request=pull_json)
    return review


def _comment(
    state: GitHubState, repo: Repo, base: str, head: str, review: Review, given: dict[str, Any], now: float
) -> ReviewComment:
    path, line, text = given.get("path"), given.get("line"), given.get("body")
    if not isinstance(path, str) or not isinstance(text, str) or not isinstance(line, int):
        raise unprocessable('Invalid request.\n\n"path", "line" and "body" are required.')
    file_diff = gitstore.git(repo.path, "diff", f"{base}...{head}", "--", path) if path else ""
    if not file_diff.strip():
        raise unprocessable(PATH_UNRESOLVED)
    found = locate(file_diff, line)
    if found is None:
        raise unprocessable(LINE_NOT_IN_DIFF)
    position, hunk = found
    return ReviewComment(state.next_id(), review.id, review.issue_number, path, line, text, review.user,
                         head, hunk, position, now)  # fmt: skip


def _pull_url(api: str, repo: Repo, number: int) -> str:
    return f"{api}/repos/{repo.full_name}/pulls/{number}"


def render_review(api: str, repo: Repo, review: Review) -> dict[str, Any]:
    """A review as GET/POST /pulls/{n}/reviews answer it (`state` in upper case)."""
    html = f"https://github.com/{repo.full_name}/pull/{review.issue_number}#pullrequestreview-{review.id}"
    pull_url = _pull_url(api, repo, review.issue_number)
    submitted = {"submitted_at": iso(review.submitted_at)} if review.submitted_at is not None else {}
    return {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": render_user(api, review.user),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": association(repo, review.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "commit_id": review.commit_id,
        **submitted,  # a PENDING review has none
    }


def render_review_comment(api: str, repo: Repo, c: ReviewComment) -> dict[str, Any]:
    """A review comment as GET /pulls/{n}/comments and /reviews/{id}/comments answer it."""
    url = f"{api}/repos/{repo.full_name}/pulls/comments/{c.id}"
    html = f"https://github.com/{repo.full_name}/pull/{c.issue_number}#discussion_r{c.id}"
    pull_url = _pull_url(api, repo, c.issue_number)
    rollup = {k: 0 for k in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")}
    return {
        "url": url,
        "pull_request_review_id": c.review_id,
        "id": c.id,
        "node_id": node_id("PullRequestReviewComment", c.id),
        "diff_hunk": c.diff_hunk,
        "path": c.path,
        "position": c.position,
        "original_position": c.position,
        "commit_id": c.commit_id,
        "original_commit_id": c.commit_id,
        "user": render_user(api, c.user),
        "body": c.body,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.created_at),
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": association(repo, c.user),
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_url}},
        "reactions": {"url": f"{url}/reactions", "total_count": 0, **rollup},
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": c.line,
        "original_line": c.line,
        "side": "RIGHT",
        "subject_type": "line",
    }
