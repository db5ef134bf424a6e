"""Checklist D, auth and tokens: what tests/test_github_client.py and tests/test_github_integration.py
(JWT claims, renewal mid-job, the long token format) leave open.

respx stands in for api.github.com (tests/github_support.py); jobs run in a real arq worker on a real
Redis; the down-scoped tokens (D4) also go through the local GitHub (tests/fakes/github).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit.exception import RequestFailed
from redis.asyncio import Redis

from app.github.client import TOKEN_KEY, GitHubApp
from app.github.contents import fetch_default_branch, read_file
from app.github.errors import NotFound, Unprocessable
from app.github.git_auth import clone_url, git_env
from app.github.scopes import LEVELS, build_token_permissions
from app.settings import Settings
from app.setup.manifest import load_manifest
from jobs.deps import Deps
from jobs.fix_check import CheckJob
from jobs.worker import build_workers, run_workers
from tests.fakes.github.auth import PERMISSIONS_NOT_GRANTED, REPOSITORY_NOT_ACCESSIBLE
from tests.github_support import INSTALLATION, TOKEN, error, mint, run_one_job
from tests.support import OWNER, LocalGitHub, deliver, fixture_bytes, fixture_json
from tests.test_manifest import APP, CALLS, NEVER, OPERATIONS

SUSPENDED = "This installation has been suspended"
REPO_ID = 1296269


async def read_issue(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job that reads an issue through the worker's GitHub client, as the pipeline does."""
    inst = ctx["github"].installation(request["installation_id"], attempt=ctx["job_try"])
    response = await inst.read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    return {"title": response.json()["title"]}


def _body(call: respx.models.Call) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content or b"{}")
    return body


async def test_D4_the_token_mint_is_down_scoped(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    """D4: token down-scoping -> the token-mint request body includes `repository_ids=[target]` and
    the minimal `permissions`: the manifest's, never `members` (the dashboard's sign-in uses the
    user's own token), never beyond what github_app.yml declares."""
    minted = mint(api, key, [TOKEN] * 2)
    api.get("/repos/o/r/issues/1").respond(200, json={"number": 1, "title": "t", "state": "open"})
    await github.installation(INSTALLATION, repository_id=REPO_ID).read(
        lambda gh: gh.rest.issues.async_get("o", "r", 1)
    )
    await github.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))

    scoped, unscoped = (_body(c) for c in minted.calls)
    declared = load_manifest()["default_permissions"]
    assert scoped["repository_ids"] == [REPO_ID]
    assert scoped["permissions"] == {k: v for k, v in declared.items() if k != "members"}
    assert "repository_ids" not in unscoped  # reconciliation's token: every repository
    assert "repositories" not in unscoped
    assert unscoped["permissions"] == scoped["permissions"]


def test_D4_the_token_covers_every_call_the_code_makes_and_nothing_else() -> None:
    """The job token's permissions come from the manifest, and reach every call tests/test_manifest.py
    lists: one source of truth, so a new call and the token cannot drift apart."""
    permissions = build_token_permissions()
    needed: dict[str, int] = {}
    for permission, level in [*CALLS.values(), *OPERATIONS.values()]:
        if (permission, level) != APP:
            needed[permission] = max(needed.get(permission, 0), LEVELS[level])
    assert {name: LEVELS[level] for name, level in permissions.items()} == needed
    assert not set(permissions) & NEVER


async def test_D4_a_mint_asks_only_for_what_the_installation_holds(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    """An installation that has not accepted a permission yet (contents: write asked, read held): GitHub
    refuses the whole mint with 422, so the client asks again for what the installation holds."""
    not_granted = error(422, "The permissions requested are not granted to this installation.")
    handler = cast("Callable[[httpx.Request], httpx.Response]", mint(api, key, [TOKEN]).side_effect)
    answers = [not_granted]

    def refuse_first(request: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else handler(request)

    route = api.post(f"/app/installations/{INSTALLATION}/access_tokens").mock(side_effect=refuse_first)
    held = {**build_token_permissions(), "contents": "read", "administration": "write"}
    lookup = api.get(f"/app/installations/{INSTALLATION}").respond(200, json={"id": 1, "permissions": held})
    api.get("/repos/o/r/issues/1").respond(200, json={"number": 1, "title": "t", "state": "open"})

    await github.installation(INSTALLATION, repository_id=REPO_ID).read(
        lambda gh: gh.rest.issues.async_get("o", "r", 1)
    )

    assert lookup.call_count == 1
    first, second = (_body(c)["permissions"] for c in route.calls)
    assert first["contents"] == "write"
    assert second == {**first, "contents": "read"}  # and never the administration it happens to hold


@pytest.mark.parametrize("held", ["all", "none"])
async def test_D4_a_repository_the_installation_cannot_see_fails_the_mint_once(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter, held: str
) -> None:
    """A 422 the permissions do not explain (the installation holds them all) is the repository's: it
    fails the job. Nor is a token asked for with `permissions: {}`, which GitHub reads as all."""
    route = api.post(f"/app/installations/{INSTALLATION}/access_tokens").mock(
        return_value=error(422, REPOSITORY_NOT_ACCESSIBLE)
    )
    permissions = build_token_permissions() if held == "all" else {"administration": "write"}
    api.get(f"/app/installations/{INSTALLATION}").respond(200, json={"id": 1, "permissions": permissions})
    with pytest.raises(Unprocessable, match="not accessible to the parent installation"):
        await github.installation(INSTALLATION, repository_id=REPO_ID).read(
            lambda gh: gh.rest.issues.async_get("o", "r", 1)
        )
    assert route.call_count == 1


async def test_D4_a_repositorys_token_never_serves_another(
    github: GitHubApp, redis: Redis, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    """The token cache is keyed by scope: each repository, and the installation-wide token, its own."""
    minted = mint(api, key, ["ghs_repo_a", "ghs_repo_b", "ghs_whole"])
    a = github.installation(INSTALLATION, repository_id=1)
    b = github.installation(INSTALLATION, repository_id=2)
    whole = github.installation(INSTALLATION)

    tokens = [await x.token() for x in (a, b, whole, a, b, whole)]

    assert tokens == ["ghs_repo_a", "ghs_repo_b", "ghs_whole"] * 2
    assert minted.call_count == 3
    assert [_body(c).get("repository_ids") for c in minted.calls] == [[1], [2], None]


async def test_D4_drop_token_and_a_401_forget_every_scope(
    github: GitHubApp, redis: Redis, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    """`drop_token` (installation deleted or suspended) and a 401 drop all the installation's tokens."""
    minted = mint(api, key, [f"ghs_{n}" for n in range(8)])
    a, b = (github.installation(INSTALLATION, repository_id=n) for n in (1, 2))
    whole = github.installation(INSTALLATION)
    first = [await x.token() for x in (a, b, whole)]
    await github.drop_token(INSTALLATION)
    second = [await x.token() for x in (a, b, whole)]
    assert minted.call_count == 6
    assert set(first).isdisjoint(second)

    bad = error(401, "Bad credentials")
    api.get("/repos/o/r/issues/1").mock(side_effect=[bad, httpx.Response(200, json={"number": 1})])
    await a.read(lambda gh: gh.rest.issues.async_get("o", "r", 1))  # revoked: renewed once
    assert minted.call_count == 7
    left = await cast("Awaitable[list[bytes]]", redis.hkeys(TOKEN_KEY.format(INSTALLATION)))
    assert left == [b"repo:1"]  # b's and the installation-wide token went too


async def test_D5_a_suspended_installation_stops_the_job_without_retries(
    app_settings: Settings, redis: Redis, redis_url: str, api: respx.MockRouter
) -> None:
    """D5: installation suspended mid-job -> the job stops, no retry storm (one mint attempt, no arq
    retry), nothing cached."""
    mint = api.post(f"/app/installations/{INSTALLATION}/access_tokens").mock(
        return_value=error(403, SUSPENDED)
    )
    issue = api.get("/repos/o/r/issues/1").respond(200, json={"number": 1, "title": "t"})

    worker, result, _ = await run_one_job(
        app_settings, redis, redis_url, read_issue, {"installation_id": INSTALLATION}
    )

    assert (mint.call_count, issue.call_count) == (1, 0)
    assert worker.jobs_retried == 0
    assert result["s"] is True
    assert SUSPENDED in result["r"]["gave_up"]
    assert await redis.exists(TOKEN_KEY.format(INSTALLATION)) == 0


async def test_D5_installation_deleted_purges_its_cached_token(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, redis_url: str
) -> None:
    """D5: `installation.deleted` handled -> the installation's token cache is purged."""
    installation_id = fixture_json("installation.deleted.1.json")["installation"]["id"]
    key = TOKEN_KEY.format(installation_id)
    entry = json.dumps({"token": TOKEN, "expires_at": time.time() + 3600})
    scopes = {"installation": entry, "repo:1": entry, "repo:2": entry}
    await cast("Awaitable[int]", redis.hset(key, mapping=scopes))
    await redis.expire(key, 3000)
    r = await deliver(client, "installation", fixture_bytes("installation.deleted.1.json"))
    assert r.status_code == 202

    await run_workers(build_workers(settings, redis_url, burst=True, handle_signals=False), burst=True)

    assert await redis.exists(key) == 0


# -- the local GitHub narrows tokens as GitHub does ---------------------------------------------------


async def _mint_raw(gh: LocalGitHub, body: dict[str, Any]) -> httpx.Response:
    app = gh.app_client()
    path = f"/app/installations/{gh.installation_id}/access_tokens"
    return (await app.arequest("POST", path, json=body)).raw_response


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"repositories": ["elsewhere"]}, REPOSITORY_NOT_ACCESSIBLE),
        ({"repository_ids": ["OTHER"]}, REPOSITORY_NOT_ACCESSIBLE),
        ({"permissions": {"administration": "write"}}, PERMISSIONS_NOT_GRANTED),
        ({"permissions": {"issues": "admin"}}, PERMISSIONS_NOT_GRANTED),
    ],
)
async def test_D4_the_local_github_refuses_a_mint_beyond_the_installation(
    gh: LocalGitHub, body: dict[str, Any], message: str
) -> None:
    """A repository the installation does not cover (another account's, or none) or a permission it
    does not hold -> 422 with GitHub's words, and no token."""
    other = gh.sim.create_repo("someone-else", "elsewhere", files={"a.py": ""})
    if body.get("repository_ids") == ["OTHER"]:
        body = {"repository_ids": [other.id]}
    with pytest.raises(RequestFailed) as err:
        await _mint_raw(gh, body)
    assert err.value.response.status_code == 422
    assert err.value.response.json()["message"] == message
    assert gh.state.tokens == {}


async def test_D4_a_scoped_token_is_not_found_on_another_repository(gh: LocalGitHub) -> None:
    """The token records what it was narrowed to; on another repository of the same installation the
    API and git both answer 404, as GitHub does for what a token cannot see."""
    mine = gh.sim.create_repo(OWNER, "mine", files={"a.py": ""})
    gh.sim.create_repo(OWNER, "theirs", files={"a.py": ""})
    asked = {"contents": "read", "metadata": "read"}
    minted = await _mint_raw(gh, {"repository_ids": [mine.id], "permissions": asked})
    text = minted.json()["token"]

    assert gh.state.tokens[text].permissions == asked
    assert gh.state.tokens[text].repositories == [mine.full_name]
    assert [r["full_name"] for r in minted.json()["repositories"]] == [mine.full_name]
    async with httpx.AsyncClient(base_url=gh.url, headers={"authorization": f"token {text}"}) as client:
        assert (await client.get(f"/repos/{OWNER}/mine")).status_code == 200
        theirs = await client.get(f"/repos/{OWNER}/theirs")
        listed = (await client.get("/installation/repositories")).json()
    assert theirs.status_code == 404
    assert theirs.json()["message"] == "Not Found"
    assert [r["name"] for r in listed["repositories"]] == ["mine"]


def _ls_remote(gh: LocalGitHub, name: str, token: str) -> subprocess.CompletedProcess[str]:
    url = clone_url(gh.url, OWNER, name)
    return subprocess.run(
        ["git", "ls-remote", url], env=git_env(token, url), capture_output=True, text=True, timeout=30
    )


async def test_D4_a_jobs_token_cannot_touch_another_repository(gh: LocalGitHub, deps: Deps) -> None:
    """Through the local GitHub: the check job's client (as jobs/fix_check.py builds it) reads its own
    repository and gets 404 on another one of the same installation, over the API and over git."""
    mine = gh.sim.create_repo(OWNER, "mine", files={"a.py": "x = 1\n"})
    gh.sim.create_repo(OWNER, "theirs", files={"a.py": "secret = 1\n"})
    request = {"repo": mine.full_name, "repo_id": mine.id, "head_sha": "0" * 40}
    job = CheckJob(deps, {**request, "installation_id": gh.installation_id}, "check:x")

    assert await read_file(job.inst, OWNER, "mine", "a.py") == "x = 1\n"
    with pytest.raises(NotFound):
        await fetch_default_branch(job.inst, OWNER, "theirs")
    assert await read_file(job.inst, OWNER, "theirs", "a.py") is None
    token = await job.inst.token()
    assert _ls_remote(gh, "mine", token).returncode == 0
    refused = _ls_remote(gh, "theirs", token)
    assert refused.returncode != 0
    assert "not found" in refused.stderr.lower()
    [scoped] = [t for t in gh.state.tokens.values() if t.token == token]
    assert scoped.repositories == [mine.full_name]
    assert "members" not in scoped.permissions
