"""Reviews and their inline comments on the local GitHub: githubkit's strict models accept the
shapes, lists paginate with `Link`, comments off the diff are refused with GitHub's 422, and a
submitted review sends the webhooks GitHub sends."""

from __future__ import annotations

from typing import Any

import pytest
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import (
    WebhookPullRequestReviewCommentCreated,
    WebhookPullRequestReviewSubmitted,
)

from tests.fakes.github.reviews import locate
from tests.fakes.github.state import Repo
from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

CALC = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n" for n in range(8))
FILES = {"calc.py": CALC, "README.md": "# demo\n"}
CHANGED = CALC.replace("return x + 1\n", "return x - 1\n").replace("return x + 6\n", "return x * 6\n")
TWO = [
    {"path": "calc.py", "line": 6, "body": "Why subtract?"},
    {"path": "calc.py", "line": 26, "body": "Keep the sum here."},
]


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    repo = gh.sim.create_repo(OWNER, "demo", FILES)
    gh.sim.commit(repo, "autofix/1", {"calc.py": CHANGED}, "fix: calc", "mona")
    gh.sim.open_pr(repo, "autofix/1", user="mona")
    return repo


def parsed_items(response: Any) -> list[Any]:
    """A list answer, validated by githubkit (whose `list?[...]` annotation mypy cannot iterate)."""
    return list(response.parsed_data)


def review_data(**fields: Any) -> Any:
    return fields


def test_locate_counts_positions_from_the_first_hunk_header() -> None:
    diff = (
        "diff --git a/c.py b/c.py\n--- a/c.py\n+++ b/c.py\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        "@@ -10,2 +10,2 @@ def g():\n-x\n+X\n y\n"
    )
    assert locate(diff, 2) == (3, "@@ -1,3 +1,3 @@\n a\n-b\n+B")
    assert locate(diff, 10) == (7, "@@ -10,2 +10,2 @@ def g():\n-x\n+X")  # the second header counts
    assert locate(diff, 11) == (8, "@@ -10,2 +10,2 @@ def g():\n-x\n+X\n y")
    assert locate(diff, 5) is None


async def test_a_review_with_comments_and_the_lists_of_its_comments(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    sent = await client.rest.pulls.async_create_review(
        OWNER, "demo", 1, data=review_data(event="REQUEST_CHANGES", body="Not like this.", comments=TWO)
    )
    review = sent.parsed_data
    head = repo.issues[1].pull.head_sha  # type: ignore[union-attr]
    assert sent.status_code == 200
    assert (review.state, review.body, review.commit_id) == ("CHANGES_REQUESTED", "Not like this.", head)

    of_review = await client.rest.pulls.async_list_comments_for_review(OWNER, "demo", 1, review.id)
    comments = parsed_items(of_review)
    assert [(c.path, c.line, c.original_line, c.side, c.body) for c in comments] == [
        ("calc.py", 6, 6, "RIGHT", "Why subtract?"),
        ("calc.py", 26, 26, "RIGHT", "Keep the sum here."),
    ]
    assert {(c.pull_request_review_id, c.commit_id) for c in comments} == {(review.id, head)}
    assert comments[0].diff_hunk.endswith("-    return x + 1\n+    return x - 1")
    assert comments[0].position == 5  # lines 3, 4, 5, the removed line, then line 6

    first = await client.rest.pulls.async_list_review_comments(OWNER, "demo", 1, per_page=1)
    assert [c.id for c in parsed_items(first)] == [comments[0].id]
    assert 'rel="next"' in first.headers["link"]
    assert "page=2" in first.headers["link"]
    pages: Any = client.rest.paginate(
        client.rest.pulls.async_list_review_comments, owner=OWNER, repo="demo", pull_number=1, per_page=1
    )
    everything = [c.id async for c in pages]
    assert everything == [c.id for c in comments]
    listed = parsed_items(await client.rest.pulls.async_list_reviews(OWNER, "demo", 1))
    assert [r.id for r in listed] == [review.id]


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        ({"path": "README.md", "line": 1, "body": "x"}, "Path could not be resolved"),
        ({"path": "nowhere.py", "line": 1, "body": "x"}, "Path could not be resolved"),
        (
            {"path": "calc.py", "line": 16, "body": "x"},
            "Pull request review thread line must be part of the diff",
        ),
    ],
)
async def test_a_comment_off_the_diff_is_refused(
    gh: LocalGitHub, repo: Repo, comment: dict[str, object], reason: str
) -> None:
    client = gh.client()
    with pytest.raises(RequestFailed) as failed:
        await client.rest.pulls.async_create_review(
            OWNER, "demo", 1, data=review_data(event="REQUEST_CHANGES", body="No.", comments=[comment])
        )
    assert failed.value.response.status_code == 422
    assert failed.value.response.json()["errors"] == [reason]
    assert gh.state.reviews == {}


async def test_unknown_pulls_and_reviews_are_404(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    review = gh.sim.review(repo, 1, "REQUEST_CHANGES", "No.", TWO[:1], user="rev")
    for call in (
        client.rest.pulls.async_list_comments_for_review(OWNER, "demo", 1, review.id + 999),
        client.rest.pulls.async_list_review_comments(OWNER, "demo", 99),
    ):
        with pytest.raises(RequestFailed) as failed:
            await call
        assert failed.value.response.status_code == 404


async def test_a_submitted_review_sends_githubs_webhooks(gh: LocalGitHub, repo: Repo) -> None:
    with hooks_to(gh, HookReceiver()) as receiver:
        review = gh.sim.review(repo, 1, "REQUEST_CHANGES", "Please redo.", TWO, user="rev")
        gh.state.hookshot.flush()

    [submitted] = [parse(h.event, h.body) for h in receiver.events("pull_request_review")]
    assert isinstance(submitted, WebhookPullRequestReviewSubmitted)
    assert (submitted.review.id, submitted.review.state, submitted.review.user.login) == (  # type: ignore[union-attr]
        review.id,
        "changes_requested",
        "rev",
    )
    assert submitted.pull_request.head.ref == "autofix/1"
    hooks = [parse(h.event, h.body) for h in receiver.events("pull_request_review_comment")]
    created = [c for c in hooks if isinstance(c, WebhookPullRequestReviewCommentCreated)]
    assert len(created) == len(hooks)
    assert [(c.comment.line, c.comment.body) for c in created] == [
        (6, "Why subtract?"),
        (26, "Keep the sum here."),
    ]


def test_own_pull_and_empty_reviews_are_refused(gh: LocalGitHub, repo: Repo) -> None:
    from tests.fakes.github.errors import ApiError

    with pytest.raises(ApiError) as own:
        gh.sim.review(repo, 1, "REQUEST_CHANGES", "Mine.", user="mona")
    with pytest.raises(ApiError) as empty:
        gh.sim.review(repo, 1, "REQUEST_CHANGES", "", user="rev")
    assert (own.value.status, own.value.errors) == (422, ["Can not request changes on your own pull request"])
    assert empty.value.status == 422


async def test_a_review_without_an_event_stays_pending_and_sends_nothing(gh: LocalGitHub, repo: Repo) -> None:
    sent: list[str] = []
    gh.state.deliver = lambda event, payload: sent.append(event)
    client = gh.client()

    made = await client.rest.pulls.async_create_review(OWNER, "demo", 1, data=review_data(comments=TWO[:1]))
    pending = made.parsed_data

    assert pending.state == "PENDING"
    assert not pending.submitted_at
    assert sent == []
    listed = await client.rest.pulls.async_list_comments_for_review(OWNER, "demo", 1, pending.id)
    assert [c.line for c in parsed_items(listed)] == [6]
