"""Comments (and the sticky one found by its hidden marker), labels, reactions, permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from app.github.client import Installation
from app.github.conversation import (
    add_labels,
    add_reaction,
    create_comment,
    fetch_permission,
    is_ours,
    parse_permission,
    remove_label,
    render_sticky,
    upsert_sticky_comment,
)
from app.github.errors import Forbidden, NotFound, RateLimited
from tests.github_support import PERMISSION_403, error
from tests.support import APP_ID, fixture_json

COMMENTS = "/repos/o/r/issues/5/comments"
HIDDEN = "<!-- autofix:status -->"
OUR_APP = {"id": APP_ID, "slug": "autofix", "name": "Autofix"}


def comment(comment_id: int, text: str, *, app: dict[str, Any] | None = None, **user: Any) -> dict[str, Any]:
    """An issue comment as GitHub returns it (from a real issue_comment.created delivery)."""
    data: dict[str, Any] = fixture_json("issue_comment.created.1.json")["comment"]
    author = data["user"] | user
    return data | {"id": comment_id, "body": text, "user": author, "performed_via_github_app": app}


@pytest.fixture(autouse=True)
def app_info(api: respx.MockRouter) -> respx.Route:
    """GET /app, which tells the sticky comment whose comments are ours (`autofix[bot]`'s)."""
    body = {
        "id": APP_ID, "slug": "autofix", "node_id": "MDM6QXBwNDI0MjQy", "name": "Autofix",
        "owner": {"login": "octo-org", "id": 1, "type": "Organization"},
        "permissions": {"issues": "write"}, "events": ["check_run", "issue_comment", "issues"],
    }  # fmt: skip
    return api.get("/app").respond(200, json=body)


def test_sticky_body_ends_with_its_marker_once() -> None:
    assert render_sticky("status", "Working on it") == f"Working on it\n\n{HIDDEN}"
    assert render_sticky("status", f"Done {HIDDEN}") == f"Done {HIDDEN}"


@pytest.mark.parametrize(
    ("data", "bot_login", "ours"),
    [
        (comment(1, "x", app=OUR_APP), None, True),
        (comment(1, "x", app={"id": 99, "slug": "other"}), None, False),
        (comment(1, "x", login="autofix[bot]", type="Bot"), "autofix[bot]", True),
        (
            comment(1, "x", login="autofix[bot]", type="User"),
            "autofix[bot]",
            False,
        ),  # only a Bot account counts
        (comment(1, "x", login="mallory"), "autofix[bot]", False),
        (comment(1, "x"), None, False),
    ],
)
def test_only_the_apps_own_comments_are_ours(data: dict[str, Any], bot_login: str | None, ours: bool) -> None:
    assert is_ours(data, APP_ID, bot_login) is ours


async def test_create_comment(inst: Installation, api: respx.MockRouter) -> None:
    posted = api.post(COMMENTS).respond(201, json=comment(11, "hello", app=OUR_APP))
    made = await create_comment(inst, "o", "r", 5, "hello")
    assert (made.id, made.body) == (11, "hello")
    assert json.loads(posted.calls.last.request.content) == {"body": "hello"}


async def test_sticky_updates_our_marked_comment_on_a_later_page(
    inst: Installation, api: respx.MockRouter, app_info: respx.Route
) -> None:
    page2 = "https://api.github.com/repositories/1/issues/5/comments?page=2"
    first = [comment(1, "please fix"), comment(2, f"copied {HIDDEN}")]  # a human quoting the marker
    api.get(COMMENTS).respond(200, json=first, headers={"link": f'<{page2}>; rel="next"'})
    bots = comment(3, f"Old\n\n{HIDDEN}", login="autofix[bot]", type="Bot")  # as GitHub shows the App's own
    api.get(page2).respond(200, json=[bots])
    created = api.post(COMMENTS)
    patched = api.patch("/repos/o/r/issues/comments/3").respond(
        200, json=comment(3, f"New\n\n{HIDDEN}", app=OUR_APP)
    )
    made = await upsert_sticky_comment(inst, "o", "r", 5, "status", "New")
    assert made.id == 3
    assert app_info.calls.last.request.headers["authorization"].startswith("Bearer ")
    assert created.call_count == 0
    assert json.loads(patched.calls.last.request.content) == {"body": f"New\n\n{HIDDEN}"}


async def test_sticky_with_the_same_body_writes_nothing(inst: Installation, api: respx.MockRouter) -> None:
    api.get(COMMENTS).respond(200, json=[comment(3, f"Same\n\n{HIDDEN}", app=OUR_APP)])
    created, patched = api.post(COMMENTS), api.patch("/repos/o/r/issues/comments/3")
    assert (await upsert_sticky_comment(inst, "o", "r", 5, "status", "Same")).id == 3
    assert created.call_count == patched.call_count == 0


async def test_sticky_is_created_when_none_is_ours(inst: Installation, api: respx.MockRouter) -> None:
    other_marker = comment(4, "<!-- autofix:other -->", app=OUR_APP)
    api.get(COMMENTS).respond(200, json=[comment(2, f"copied {HIDDEN}"), other_marker])
    created = api.post(COMMENTS).respond(201, json=comment(9, f"Hi\n\n{HIDDEN}", app=OUR_APP))
    assert (await upsert_sticky_comment(inst, "o", "r", 5, "status", "Hi")).id == 9
    assert json.loads(created.calls.last.request.content) == {"body": f"Hi\n\n{HIDDEN}"}


async def test_sticky_on_a_rate_limit_propagates(inst: Installation, api: respx.MockRouter) -> None:
    api.get(COMMENTS).mock(return_value=error(429, "Too many", **{"retry-after": "3"}))
    with pytest.raises(RateLimited):
        await upsert_sticky_comment(inst, "o", "r", 5, "status", "Hi")


async def test_labels_add_and_remove(inst: Installation, api: respx.MockRouter) -> None:
    label = {
        "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "u", "name": "autofix: needs human",
        "description": "", "color": "f29513", "default": False,
    }  # fmt: skip
    added = api.post("/repos/o/r/issues/5/labels").respond(200, json=[label])
    assert await add_labels(inst, "o", "r", 5, ["autofix: needs human"]) == ["autofix: needs human"]
    assert json.loads(added.calls.last.request.content) == {"labels": ["autofix: needs human"]}

    removed = api.delete("/repos/o/r/issues/5/labels/area%2Fci%20bot").respond(200, json=[])
    await remove_label(inst, "o", "r", 5, "area/ci bot")
    assert removed.call_count == 1


async def test_removing_a_label_that_is_not_there_is_fine(inst: Installation, api: respx.MockRouter) -> None:
    api.delete("/repos/o/r/issues/5/labels/autofix").mock(return_value=error(404, "Label does not exist"))
    await remove_label(inst, "o", "r", 5, "autofix")


async def test_removing_a_label_without_permission_is_forbidden(
    inst: Installation, api: respx.MockRouter
) -> None:
    api.delete("/repos/o/r/issues/5/labels/autofix").mock(return_value=error(403, PERMISSION_403))
    with pytest.raises(Forbidden):
        await remove_label(inst, "o", "r", 5, "autofix")


REACTION = {"id": 1, "node_id": "MDg6UmVhY3Rpb24x", "content": "eyes", "created_at": "2026-11-21T05:00:00Z"}


async def test_reactions_on_a_comment_and_an_issue(inst: Installation, api: respx.MockRouter) -> None:
    on_comment = api.post("/repos/o/r/issues/comments/77/reactions").respond(201, json=REACTION)
    on_issue = api.post("/repos/o/r/issues/5/reactions").respond(200, json=REACTION)  # 200: already there
    await add_reaction(inst, "o", "r", "eyes", comment_id=77)
    await add_reaction(inst, "o", "r", "rocket", issue_number=5)
    assert json.loads(on_comment.calls.last.request.content) == {"content": "eyes"}
    assert json.loads(on_issue.calls.last.request.content) == {"content": "rocket"}


async def test_reactions_are_checked_before_any_call(inst: Installation) -> None:
    with pytest.raises(ValueError, match="no reaction"):
        await add_reaction(inst, "o", "r", "thumbsup", comment_id=1)
    with pytest.raises(ValueError, match="exactly one"):
        await add_reaction(inst, "o", "r", "eyes", comment_id=1, issue_number=2)


@pytest.mark.parametrize(
    ("data", "role"),
    [
        ({"permission": "admin", "role_name": "admin"}, "admin"),
        ({"permission": "write", "role_name": "maintain"}, "maintain"),  # legacy field maps maintain to write
        ({"permission": "read", "role_name": "triage"}, "triage"),
        ({"permission": "write", "role_name": "release-manager"}, "write"),  # a custom role: its base
        ({"permission": "read"}, "read"),  # GHES without role_name
        ({"permission": "none", "role_name": "none"}, "none"),
        ({"permission": "owner?"}, "none"),
    ],
)
def test_permission_reads_role_name_then_permission(data: dict[str, Any], role: str) -> None:
    assert parse_permission(data) == role


async def test_fetch_permission(inst: Installation, api: respx.MockRouter) -> None:
    user = fixture_json("issue_comment.created.1.json")["comment"]["user"]
    body = {"permission": "write", "role_name": "maintain", "user": user | {"permissions": {"push": True}}}
    api.get("/repos/o/r/collaborators/octo-cat/permission").respond(200, json=body)
    assert await fetch_permission(inst, "o", "r", "octo-cat") == "maintain"


async def test_an_unknown_user_has_no_permission(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/collaborators/ghost/permission").mock(return_value=error(404, "Not Found"))
    assert await fetch_permission(inst, "o", "r", "ghost") == "none"


async def test_permission_lookup_forbidden_is_not_none(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/collaborators/x/permission").mock(return_value=error(403, PERMISSION_403))
    with pytest.raises(Forbidden):
        await fetch_permission(inst, "o", "r", "x")


async def test_commenting_on_a_gone_issue_is_not_found(inst: Installation, api: respx.MockRouter) -> None:
    api.post(COMMENTS).mock(return_value=error(404, "Not Found"))
    with pytest.raises(NotFound):
        await create_comment(inst, "o", "r", 5, "x")
