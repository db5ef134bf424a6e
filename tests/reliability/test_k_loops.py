"""Checklist K, loops and budgets: what tests/test_routing.py (bots, own branches),
tests/test_fix_check_scenarios.py (a spent budget) and tests/test_github_ops_conversation.py leave
open. respx stands in for api.github.com, with GitHub's own comment shapes."""

from __future__ import annotations

import json

import httpx
import respx

from app.github.client import Installation
from app.github.conversation import upsert_sticky_comment
from tests.test_github_ops_conversation import COMMENTS, HIDDEN, OUR_APP, app_info, comment

__all__ = ["app_info"]  # GET /app, for every test here: it tells which comments are the App's


async def test_K4_a_comment_list_that_lags_the_bots_post_gives_one_comment(
    inst: Installation, api: respx.MockRouter
) -> None:
    """K4: eventual consistency, the comment list lags after the bot posts (the first list has no
    bot comment, the second has it) -> the upsert by hidden marker yields one comment, not
    duplicates."""
    posted = comment(7, f"Working\n\n{HIDDEN}", app=OUR_APP)
    lists = api.get(COMMENTS).mock(
        side_effect=[httpx.Response(200, json=[]), httpx.Response(200, json=[comment(1, "please"), posted])]
    )
    created = api.post(COMMENTS).respond(201, json=posted)
    patched = api.patch("/repos/o/r/issues/comments/7").respond(
        200, json=comment(7, f"Done\n\n{HIDDEN}", app=OUR_APP)
    )

    first = await upsert_sticky_comment(inst, "o", "r", 5, "status", "Working")
    second = await upsert_sticky_comment(inst, "o", "r", 5, "status", "Done")

    assert (first.id, second.id) == (7, 7)
    assert (lists.call_count, created.call_count, patched.call_count) == (2, 1, 1)
    assert json.loads(patched.calls.last.request.content) == {"body": f"Done\n\n{HIDDEN}"}
