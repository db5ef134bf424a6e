"""Issues, comments, labels, reactions and permissions on the local GitHub, through githubkit."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed

from tests.fakes.github.state import Repo
from tests.support import OWNER, LocalGitHub


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    repo = gh.sim.create_repo(OWNER, "demo")
    gh.sim.open_issue(repo, "add() subtracts", "It returns a - b.", user="mona")
    return repo


async def test_issue_parses_and_patch_closes_it(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    issue = (await client.rest.issues.async_get(OWNER, "demo", 1)).parsed_data
    closed = await client.rest.issues.async_update(
        OWNER, "demo", 1, state="closed", state_reason="not_planned"
    )

    assert issue.title == "add() subtracts"
    assert issue.user is not None
    assert issue.user.login == "mona"
    assert closed.parsed_data.state == "closed"
    assert closed.parsed_data.closed_at is not None
    assert repo.issues[1].state_reason == "not_planned"


async def test_comments_create_list_paginate_and_update(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    for n in range(3):
        gh.sim.comment(repo, 1, f"comment {n}", user="lisa")
    mine = (
        await client.rest.issues.async_create_comment(OWNER, "demo", 1, body="<!-- autofix --> hi")
    ).parsed_data
    edited = await client.rest.issues.async_update_comment(
        OWNER, "demo", mine.id, body="<!-- autofix --> bye"
    )

    bodies: list[str | None] = [  # type: ignore[var-annotated]
        c.body
        async for c in client.rest.paginate(
            client.rest.issues.async_list_comments, owner=OWNER, repo="demo", issue_number=1, per_page=2
        )
    ]
    assert bodies == ["comment 0", "comment 1", "comment 2", "<!-- autofix --> bye"]
    assert mine.user is not None
    assert mine.user.login == "autofix-test[bot]"
    assert edited.parsed_data.body == "<!-- autofix --> bye"
    assert len(gh.state.seen("GET", "/issues/1/comments")) == 2


async def test_labels_add_and_remove(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    added = (
        await client.rest.issues.async_add_labels(OWNER, "demo", 1, labels=["autofix", "bug"])
    ).parsed_data
    left = (await client.rest.issues.async_remove_label(OWNER, "demo", 1, "autofix")).parsed_data
    with pytest.raises(RequestFailed) as err:
        await client.rest.issues.async_remove_label(OWNER, "demo", 1, "autofix")

    assert [label.name for label in added] == ["autofix", "bug"]  # type: ignore[attr-defined]
    assert [label.name for label in left] == ["bug"]  # type: ignore[attr-defined]
    assert err.value.response.status_code == 404


async def test_reactions_are_created_once(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    comment = gh.sim.comment(repo, 1, "/autofix retry")
    first = await client.rest.reactions.async_create_for_issue_comment(
        OWNER, "demo", comment.id, content="eyes"
    )
    again = await client.rest.reactions.async_create_for_issue_comment(
        OWNER, "demo", comment.id, content="eyes"
    )
    on_issue = await client.rest.reactions.async_create_for_issue(OWNER, "demo", 1, content="+1")

    assert (first.status_code, again.status_code, on_issue.status_code) == (201, 200, 201)
    assert first.parsed_data.id == again.parsed_data.id
    assert on_issue.parsed_data.content == "+1"


@pytest.mark.parametrize(
    ("role", "permission"),
    [
        ("admin", "admin"),
        ("maintain", "write"),
        ("write", "write"),
        ("triage", "read"),
        ("read", "read"),
        (None, "none"),
    ],
)
async def test_collaborator_permission_levels(
    gh: LocalGitHub, repo: Repo, role: str | None, permission: str
) -> None:
    if role is None:
        gh.state.user("stranger")
    else:
        gh.sim.set_permission(repo, "stranger", role)
    client = gh.client()
    answer = (
        await client.rest.repos.async_get_collaborator_permission_level(OWNER, "demo", "stranger")
    ).parsed_data
    assert answer.permission == permission
    assert answer.role_name == (role or "none")
