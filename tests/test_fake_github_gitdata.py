"""Git Data API on the local GitHub: what githubkit writes becomes real git objects and refs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import WebhookPush

from tests.fakes import github as fake_github
from tests.fakes.github import gitstore
from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

FILES = {"README.md": "# demo\n", "src/calc.py": "def add(a, b):\n    return a - b\n", "old.txt": "x\n"}


@pytest.fixture
def gh(gh: LocalGitHub) -> LocalGitHub:
    served = gh
    served.sim.create_repo(OWNER, "demo", FILES)
    return served


def repo_path(gh: LocalGitHub) -> Path:
    return gh.state.repos[f"{OWNER}/demo"].path


async def commit_fix(client: GitHub[Any], parent: str) -> str:
    """blob + tree (one change, one delete) + commit, as the publisher does."""
    git = client.rest.git
    blob = (
        await git.async_create_blob(OWNER, "demo", content="def add(a, b):\n    return a + b\n")
    ).parsed_data
    tree = (
        await git.async_create_tree(
            OWNER,
            "demo",
            base_tree=parent,
            tree=[
                {"path": "src/calc.py", "mode": "100644", "type": "blob", "sha": blob.sha},
                {"path": "old.txt", "mode": "100644", "type": "blob", "sha": None},
            ],
        )
    ).parsed_data
    assert {e.path for e in tree.tree} == {"README.md", "src"}
    commit = await git.async_create_commit(OWNER, "demo", message="fix: add", tree=tree.sha, parents=[parent])
    assert commit.status_code == 201
    parsed = commit.parsed_data
    assert parsed.verification.verified is True
    assert parsed.verification.reason == "valid"
    assert parsed.author.name == "autofix-test[bot]"
    sha: str = parsed.sha
    return sha


async def test_blob_tree_commit_ref_round_trip(gh: LocalGitHub) -> None:
    client = gh.client()
    base = (await client.rest.git.async_get_ref(OWNER, "demo", "heads/main")).parsed_data.object_.sha
    sha = await commit_fix(client, base)

    ref = (
        await client.rest.git.async_create_ref(OWNER, "demo", ref="refs/heads/autofix/1", sha=sha)
    ).parsed_data
    branch = (await client.rest.repos.async_get_branch(OWNER, "demo", "autofix/1")).parsed_data

    assert ref.ref == "refs/heads/autofix/1"
    assert ref.object_.sha == sha == branch.commit.sha
    path = repo_path(gh)
    assert gitstore.read_commit(path, sha).parents == [base]
    files = {e.path for e in gitstore.list_tree(path, sha, recursive=True)}
    assert files == {"README.md", "src/calc.py"}
    git_commit = (await client.rest.git.async_get_commit(OWNER, "demo", sha)).parsed_data
    assert git_commit.tree.sha == gitstore.read_commit(path, sha).tree


async def test_create_ref_needs_full_name_and_refuses_duplicates(gh: LocalGitHub) -> None:
    client = gh.client()
    base = (await client.rest.git.async_get_ref(OWNER, "demo", "heads/main")).parsed_data.object_.sha
    for ref, message in (
        ("heads/x", fake_github.api_git.BAD_REF_NAME),
        ("refs/heads/main", "Reference already exists"),
    ):
        with pytest.raises(RequestFailed) as err:
            await client.rest.git.async_create_ref(OWNER, "demo", ref=ref, sha=base)
        assert err.value.response.status_code == 422
        assert err.value.response.json()["message"] == message


async def test_update_ref_refuses_non_fast_forward_unless_forced(gh: LocalGitHub) -> None:
    client = gh.client()
    base = (await client.rest.git.async_get_ref(OWNER, "demo", "heads/main")).parsed_data.object_.sha
    ahead = await commit_fix(client, base)
    await client.rest.git.async_create_ref(OWNER, "demo", ref="refs/heads/fix", sha=ahead)
    with pytest.raises(RequestFailed) as err:
        await client.rest.git.async_update_ref(OWNER, "demo", "heads/fix", sha=base, force=False)
    assert err.value.response.json()["message"] == "Update is not a fast forward"

    forced = (
        await client.rest.git.async_update_ref(OWNER, "demo", "heads/fix", sha=base, force=True)
    ).parsed_data
    assert forced.object_.sha == base
    assert gitstore.rev_parse(repo_path(gh), "refs/heads/fix") == base


async def test_missing_refs_and_branches(gh: LocalGitHub) -> None:
    client = gh.client()
    with pytest.raises(RequestFailed) as ref_err:
        await client.rest.git.async_get_ref(OWNER, "demo", "heads/nope")
    with pytest.raises(RequestFailed) as branch_err:
        await client.rest.repos.async_get_branch(OWNER, "demo", "nope")
    with pytest.raises(RequestFailed) as update_err:
        await client.rest.git.async_update_ref(OWNER, "demo", "heads/nope", sha="0" * 40)
    assert ref_err.value.response.status_code == branch_err.value.response.status_code == 404
    assert update_err.value.response.status_code == 422


async def test_commit_with_explicit_committer_is_unsigned(gh: LocalGitHub) -> None:
    client = gh.client()
    base = (await client.rest.git.async_get_ref(OWNER, "demo", "heads/main")).parsed_data.object_.sha
    tree = gitstore.read_commit(repo_path(gh), base).tree
    person: Any = {"name": "Mona", "email": "mona@example.com", "date": "2026-01-02T03:04:05Z"}
    resp = await client.rest.git.async_create_commit(
        OWNER, "demo", message="m", tree=tree, parents=[base], author=person, committer=person
    )
    commit = resp.parsed_data
    assert commit.verification.verified is False
    assert commit.author.date.isoformat() == "2026-01-02T03:04:05+00:00"


async def test_read_only_token_cannot_write_git_data(gh: LocalGitHub) -> None:
    client = gh.client(permissions={"contents": "read"})
    with pytest.raises(RequestFailed) as err:
        await client.rest.git.async_create_blob(OWNER, "demo", content="x")
    assert err.value.response.status_code == 403
    assert err.value.response.json()["message"] == "Resource not accessible by integration"


async def test_ref_writes_send_push_webhooks(gh: LocalGitHub) -> None:
    client = gh.client()
    base = (await client.rest.git.async_get_ref(OWNER, "demo", "heads/main")).parsed_data.object_.sha
    with hooks_to(gh, HookReceiver()) as receiver:
        ahead = await commit_fix(client, base)
        await client.rest.git.async_create_ref(OWNER, "demo", ref="refs/heads/fix", sha=ahead)
        await client.rest.git.async_update_ref(OWNER, "demo", "heads/fix", sha=base, force=True)
        await client.rest.git.async_delete_ref(OWNER, "demo", "heads/fix")
        gh.state.hookshot.flush()

    pushes = [parse(h.event, h.body) for h in receiver.events("push")]
    assert all(isinstance(p, WebhookPush) for p in pushes)
    flags = [
        (p.before, p.after, p.created, p.forced, p.deleted) for p in pushes if isinstance(p, WebhookPush)
    ]
    zero = "0" * 40
    assert flags == [
        (zero, ahead, True, False, False),
        (ahead, base, False, True, False),
        (base, zero, False, False, True),
    ]
    created = pushes[0]
    assert isinstance(created, WebhookPush)
    assert [c.id for c in created.commits] == [ahead]
    assert created.commits[0].modified == ["src/calc.py"]
    assert created.commits[0].removed == ["old.txt"]
