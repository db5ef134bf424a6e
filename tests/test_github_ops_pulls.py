"""Pull requests: found by head branch before creating, the 422 race, drafts, updates and closing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from app.github.client import Installation
from app.github.errors import Forbidden, RateLimited, Unprocessable
from app.github.pulls import close_pr, fetch_pr, find_open_pr, open_or_update_pr
from tests.github_support import PERMISSION_403, SECONDARY_403, error
from tests.support import fixture_json

PULLS = "/repos/o/r/pulls"
BODY = 'Fixes the failing `test_add`.\n\n<!-- autofix:state {"v": 1} -->'


def pull(number: int = 7, **overrides: Any) -> dict[str, Any]:
    """A pull request as GitHub returns it (from a real pull_request.opened delivery)."""
    data: dict[str, Any] = fixture_json("pull_request.opened.1.json")["pull_request"]
    data = data | {"number": number, "title": "Fix add()", "body": BODY}
    data["head"] = data["head"] | {"ref": "autofix/1", "sha": "c1"}
    return data | overrides


def validation_failed(reason: str) -> httpx.Response:
    """GitHub's 422 for a refused PR: the reason is only in `errors`, the message is generic."""
    errors = [{"resource": "PullRequest", "code": "custom", "message": reason}]
    doc = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
    return httpx.Response(
        422, json={"message": "Validation Failed", "errors": errors, "documentation_url": doc}
    )


async def test_find_open_pr_asks_by_owner_and_branch(inst: Installation, api: respx.MockRouter) -> None:
    listed = api.get(PULLS).respond(200, json=[pull()])
    found = await find_open_pr(inst, "o", "r", "autofix/1")
    assert found is not None
    assert (found.number, found.head_ref, found.base_ref, found.state) == (7, "autofix/1", "master", "open")
    params = listed.calls.last.request.url.params
    assert (params["head"], params["state"]) == ("o:autofix/1", "open")


async def test_fetch_pr_tells_a_fork_by_its_head_repository(
    inst: Installation, api: respx.MockRouter
) -> None:
    same = pull()
    api.get(f"{PULLS}/7").respond(200, json=same)
    found = await fetch_pr(inst, "o", "r", 7)
    repo_name = same["base"]["repo"]["full_name"]
    assert found.head_repo == same["head"]["repo"]["full_name"]
    assert found.base_sha == same["base"]["sha"]
    assert not found.from_fork(repo_name)
    fork = pull(8, head=same["head"] | {"repo": same["head"]["repo"] | {"full_name": "mallory/fork"}})
    api.get(f"{PULLS}/8").respond(200, json=fork)
    assert (await fetch_pr(inst, "o", "r", 8)).from_fork(repo_name)
    gone = pull(9, head=same["head"] | {"repo": None})  # the fork was deleted
    api.get(f"{PULLS}/9").respond(200, json=gone)
    assert (await fetch_pr(inst, "o", "r", 9)).from_fork(repo_name)


async def test_no_open_pr_is_none(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).respond(200, json=[])
    assert await find_open_pr(inst, "o", "r", "autofix/1") is None


async def test_open_creates_when_none_is_open(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).respond(200, json=[])
    created = api.post(PULLS).respond(201, json=pull(draft=True))
    pr, new = await open_or_update_pr(
        inst, "o", "r", head="autofix/1", base="main", title="Fix add()", body_text=BODY, draft=True
    )
    assert new
    assert pr.draft
    assert json.loads(created.calls.last.request.content) == {
        "head": "autofix/1", "base": "main", "title": "Fix add()", "body": BODY, "draft": True,
    }  # fmt: skip


async def test_open_leaves_an_identical_pr_alone(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).respond(200, json=[pull()])
    created, patched = api.post(PULLS), api.patch(f"{PULLS}/7")
    pr, new = await open_or_update_pr(
        inst, "o", "r", head="autofix/1", base="main", title="Fix add()", body_text=BODY
    )
    assert (pr.number, new) == (7, False)
    assert created.call_count == patched.call_count == 0


async def test_open_updates_the_existing_pr(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).respond(200, json=[pull()])
    created = api.post(PULLS)
    patched = api.patch(f"{PULLS}/7").respond(200, json=pull(title="Fix add() (2nd try)"))
    pr, new = await open_or_update_pr(
        inst, "o", "r", head="autofix/1", base="main", title="Fix add() (2nd try)", body_text=BODY
    )
    assert (pr.title, new) == ("Fix add() (2nd try)", False)
    assert created.call_count == 0
    assert json.loads(patched.calls.last.request.content) == {"title": "Fix add() (2nd try)", "body": BODY}


async def test_losing_the_create_race_finds_the_winner(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).mock(side_effect=[httpx.Response(200, json=[]), httpx.Response(200, json=[pull(8)])])
    api.post(PULLS).mock(return_value=validation_failed("A pull request already exists for o:autofix/1."))
    patched = api.patch(f"{PULLS}/8")
    pr, new = await open_or_update_pr(
        inst, "o", "r", head="autofix/1", base="main", title="Fix add()", body_text=BODY
    )
    assert (pr.number, new) == (8, False)
    assert patched.call_count == 0


async def test_a_refused_draft_opens_ready_for_review(inst: Installation, api: respx.MockRouter) -> None:
    api.get(PULLS).respond(200, json=[])
    created = api.post(PULLS).mock(
        side_effect=[validation_failed("Draft pull requests are not supported in this repository."),
                     httpx.Response(201, json=pull())]
    )  # fmt: skip
    pr, new = await open_or_update_pr(
        inst, "o", "r", head="autofix/1", base="main", title="Fix add()", body_text=BODY, draft=True
    )
    assert new
    assert not pr.draft
    assert [json.loads(c.request.content)["draft"] for c in created.calls] == [True, False]


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (validation_failed("No commits between main and autofix/1"), Unprocessable),
        (error(403, PERMISSION_403), Forbidden),
        (error(403, SECONDARY_403), RateLimited),
    ],
)
async def test_create_errors_propagate(
    inst: Installation, api: respx.MockRouter, response: httpx.Response, kind: type[Exception]
) -> None:
    api.get(PULLS).respond(200, json=[])
    api.post(PULLS).mock(return_value=response)
    with pytest.raises(kind):
        await open_or_update_pr(inst, "o", "r", head="autofix/1", base="main", title="t", body_text="b")


async def test_close(inst: Installation, api: respx.MockRouter) -> None:
    patched = api.patch(f"{PULLS}/7").respond(200, json=pull(state="closed"))
    assert (await close_pr(inst, "o", "r", 7)).state == "closed"
    assert json.loads(patched.calls.last.request.content) == {"state": "closed"}
