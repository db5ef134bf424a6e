"""Committing without a checkout through the Git Data API, and moving branches idempotently."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from app.github.client import Installation
from app.github.errors import NotFound, Unprocessable
from app.github.git_data import build_tree_entries, commit_files, upsert_branch
from tests.github_support import error

BASE = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
TREE = "9c48853fa3dc5c1c3d6f1f1cd1f2743e72652840"


def test_tree_entries_carry_the_text_inline_and_delete_with_a_null_sha() -> None:
    assert build_tree_entries({"b.py": "x = 1\n", "a/old.py": None}) == [
        {"path": "a/old.py", "mode": "100644", "type": "blob", "sha": None},
        {"path": "b.py", "mode": "100644", "type": "blob", "content": "x = 1\n"},
    ]


def _git_commit(sha: str, tree: str, parents: list[str]) -> dict[str, Any]:
    return {
        "sha": sha, "node_id": "C_kwDO", "url": f"https://api.github.com/repos/o/r/git/commits/{sha}",
        "html_url": f"https://github.com/o/r/commit/{sha}", "message": "m",
        "author": {"name": "autofix[bot]", "email": "1+autofix[bot]@users.noreply.github.com",
                   "date": "2026-11-21T05:00:00Z"},
        "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2026-11-21T05:00:00Z"},
        "tree": {"sha": tree, "url": f"https://api.github.com/repos/o/r/git/trees/{tree}"},
        "parents": [{"sha": p, "url": "u", "html_url": "h"} for p in parents],
        "verification": {"verified": True, "reason": "valid", "signature": "-----BEGIN PGP SIGNATURE",
                         "payload": "tree"},
    }  # fmt: skip


async def test_commit_files_makes_a_tree_on_the_base_and_a_commit_in_two_writes(
    inst: Installation, api: respx.MockRouter
) -> None:
    api.get(f"/repos/o/r/git/commits/{BASE}").respond(200, json=_git_commit(BASE, TREE, []))
    blobs = api.post("/repos/o/r/git/blobs").respond(201, json={"sha": "unused", "url": "u"})
    trees = api.post("/repos/o/r/git/trees").respond(201, json={"sha": "newtree", "url": "u", "tree": []})
    commits = api.post("/repos/o/r/git/commits").respond(
        201, json=_git_commit("newcommit", "newtree", [BASE])
    )

    changes = {"src/calc.py": "def add(a, b):\n    return a + b\n", "README.md": "hi\n", "old.py": None}
    sha = await commit_files(inst, "o", "r", BASE, changes, "Fix add()")

    assert sha == "newcommit"
    assert not blobs.called, "the tree carries the text: no write per file"
    tree = json.loads(trees.calls.last.request.content)
    assert tree["base_tree"] == TREE
    assert {e["path"]: e.get("content", e.get("sha")) for e in tree["tree"]} == {
        "src/calc.py": "def add(a, b):\n    return a + b\n",
        "README.md": "hi\n",
        "old.py": None,
    }
    commit = json.loads(commits.calls.last.request.content)
    assert commit == {"message": "Fix add()", "tree": "newtree", "parents": [BASE]}
    assert "author" not in commit, "GitHub signs (verifies) commits it authors for the App"


async def test_commit_nothing_is_refused(inst: Installation) -> None:
    with pytest.raises(ValueError, match="nothing to commit"):
        await commit_files(inst, "o", "r", BASE, {}, "empty")


async def test_commit_on_a_missing_base_is_not_found(inst: Installation, api: respx.MockRouter) -> None:
    api.get(f"/repos/o/r/git/commits/{BASE}").mock(return_value=error(404, "Not Found"))
    blobs = api.post("/repos/o/r/git/blobs")
    with pytest.raises(NotFound):
        await commit_files(inst, "o", "r", BASE, {"a": "b"}, "m")
    assert blobs.call_count == 0


def _ref(branch: str, sha: str) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}", "node_id": "REF_kwDO",
        "url": f"https://api.github.com/repos/o/r/git/refs/heads/{branch}",
        "object": {"type": "commit", "sha": sha, "url": f"https://api.github.com/repos/o/r/git/commits/{sha}"},
    }  # fmt: skip


EXISTS = error(422, "Reference already exists")


async def test_upsert_creates_a_new_branch(inst: Installation, api: respx.MockRouter) -> None:
    created = api.post("/repos/o/r/git/refs").respond(201, json=_ref("autofix/1", "c1"))
    assert await upsert_branch(inst, "o", "r", "autofix/1", "c1") == "created"
    assert json.loads(created.calls.last.request.content) == {"ref": "refs/heads/autofix/1", "sha": "c1"}


async def test_upsert_of_a_branch_already_there_is_unchanged(
    inst: Installation, api: respx.MockRouter
) -> None:
    api.post("/repos/o/r/git/refs").mock(return_value=EXISTS)
    api.get("/repos/o/r/git/ref/heads/autofix/1").respond(200, json=_ref("autofix/1", "c1"))
    patched = api.patch("/repos/o/r/git/refs/heads/autofix/1")
    assert await upsert_branch(inst, "o", "r", "autofix/1", "c1") == "unchanged"
    assert patched.call_count == 0


@pytest.mark.parametrize("force", [False, True])
async def test_upsert_moves_an_existing_branch_with_force_only_when_asked(
    inst: Installation, api: respx.MockRouter, force: bool
) -> None:
    api.post("/repos/o/r/git/refs").mock(return_value=EXISTS)
    api.get("/repos/o/r/git/ref/heads/autofix/1").respond(200, json=_ref("autofix/1", "c0"))
    patched = api.patch("/repos/o/r/git/refs/heads/autofix/1").respond(200, json=_ref("autofix/1", "c2"))
    assert await upsert_branch(inst, "o", "r", "autofix/1", "c2", force=force) == "updated"
    assert json.loads(patched.calls.last.request.content) == {"sha": "c2", "force": force}


async def test_upsert_that_is_not_a_fast_forward_is_refused(
    inst: Installation, api: respx.MockRouter
) -> None:
    api.post("/repos/o/r/git/refs").mock(return_value=EXISTS)
    api.get("/repos/o/r/git/ref/heads/autofix/1").respond(200, json=_ref("autofix/1", "c0"))
    api.patch("/repos/o/r/git/refs/heads/autofix/1").mock(
        return_value=error(422, "Update is not a fast forward")
    )
    with pytest.raises(Unprocessable, match="fast forward"):
        await upsert_branch(inst, "o", "r", "autofix/1", "c2")


async def test_upsert_other_422s_are_not_swallowed(inst: Installation, api: respx.MockRouter) -> None:
    api.post("/repos/o/r/git/refs").mock(return_value=error(422, "Object does not exist"))
    with pytest.raises(Unprocessable, match="Object does not exist"):
        await upsert_branch(inst, "o", "r", "autofix/1", "nope")
