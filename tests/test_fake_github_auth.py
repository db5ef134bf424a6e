"""The local GitHub's App auth: JWT-only routes, installation tokens, expiry, narrowing, token shapes."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from githubkit.exception import RequestFailed
from githubkit_schemas.latest.models import AppPermissions, SimpleUser

from tests.fakes import github as fake_github
from tests.support import APP_ID, OWNER, LocalGitHub, local_github


async def test_app_sees_its_installations_through_githubkit_models(gh: LocalGitHub) -> None:
    app = gh.app_client()
    [inst] = (await app.rest.apps.async_list_installations()).parsed_data
    one = (await app.rest.apps.async_get_installation(gh.installation_id)).parsed_data

    assert inst.id == one.id == gh.installation_id
    assert isinstance(inst.account, SimpleUser)
    assert inst.account.login == OWNER
    assert inst.app_id == APP_ID
    assert one.repository_selection == "all"


async def test_installation_token_is_issued_once_and_used_as_token_header(gh: LocalGitHub) -> None:
    client = gh.client()
    first = (await client.rest.apps.async_list_repos_accessible_to_installation()).parsed_data
    await client.rest.apps.async_list_repos_accessible_to_installation()

    assert first.total_count == 0
    [token_call] = gh.state.seen("POST", f"/app/installations/{gh.installation_id}/access_tokens")
    assert token_call.headers["authorization"] == "Bearer eyJ[REDACTED]"
    [*repo_calls] = gh.state.seen("GET", "/installation/repositories")
    assert {c.headers["authorization"] for c in repo_calls} == {"token ghs_[REDACTED]"}


async def test_token_body_has_expiry_permissions_and_selection(gh: LocalGitHub) -> None:
    app = gh.app_client()
    resp = await app.rest.apps.async_create_installation_access_token(
        gh.installation_id, permissions={"checks": "write", "contents": "read"}
    )
    token = resp.parsed_data

    assert resp.status_code == 201
    assert token.token.startswith("ghs_")
    assert len(token.token) == 40
    assert isinstance(token.permissions, AppPermissions)
    assert token.permissions.model_dump(exclude_unset=True) == {"checks": "write", "contents": "read"}
    remaining = datetime.fromisoformat(token.expires_at).timestamp() - time.time()
    assert 3590 < remaining <= 3600


async def test_permissions_beyond_the_installation_are_refused(gh: LocalGitHub) -> None:
    app = gh.app_client()
    with pytest.raises(RequestFailed) as err:
        await app.rest.apps.async_create_installation_access_token(
            gh.installation_id, permissions={"administration": "write"}
        )
    assert err.value.response.status_code == 422


async def get(url: str, authorization: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, headers={"authorization": authorization})


async def bad_credentials(url: str, authorization: str) -> httpx.Response:
    return await get(f"{url}/installation/repositories", authorization)


async def test_expired_and_unknown_tokens_get_bad_credentials(gh: LocalGitHub) -> None:
    app = gh.app_client()
    token = (await app.rest.apps.async_create_installation_access_token(gh.installation_id)).json()["token"]
    assert (await bad_credentials(gh.url, f"token {token}")).status_code == 200

    gh.state.clock = lambda: time.time() + 3601
    expired = await bad_credentials(gh.url, f"token {token}")
    unknown = await bad_credentials(gh.url, "token ghs_" + "x" * 36)

    for answer in (expired, unknown):
        assert answer.status_code == 401
        assert answer.json() == {
            "message": "Bad credentials",
            "documentation_url": fake_github.DOCS_URL,
            "status": "401",
        }


async def test_a_token_is_refused_where_a_jwt_is_needed(gh: LocalGitHub) -> None:
    app = gh.app_client()
    token = (await app.rest.apps.async_create_installation_access_token(gh.installation_id)).json()
    answer = await get(f"{gh.url}/app", f"token {token['token']}")
    assert answer.status_code == 401
    assert answer.json()["message"] == fake_github.JWT_UNDECODABLE


async def test_unknown_installation_is_not_found(gh: LocalGitHub) -> None:
    app = gh.app_client()
    with pytest.raises(RequestFailed) as err:
        await app.rest.apps.async_create_installation_access_token(999)
    assert err.value.response.status_code == 404


async def test_long_tokens_with_dots_work_end_to_end(tmp_path: Path, app_key: str) -> None:
    with local_github(tmp_path, app_key, token_format="long") as served:
        client = served.client()
        await client.rest.apps.async_list_repos_accessible_to_installation()
        [call] = served.state.seen("GET", "/installation/repositories")
        [token] = served.state.tokens  # what the client sent; the request log keeps it redacted

    assert call.headers["authorization"] == "token ghs_[REDACTED]"
    assert token.startswith(f"ghs_{served.installation_id}_")
    assert token.count(".") == 2
    assert len(token) > 100


async def test_request_log_keeps_no_credential(gh: LocalGitHub) -> None:
    client = gh.client()
    await client.rest.apps.async_list_repos_accessible_to_installation()
    app = gh.app_client()
    await app.rest.apps.async_get_authenticated()
    [token] = gh.state.tokens
    async with httpx.AsyncClient() as plain:
        await plain.get(f"{gh.url}/{OWNER}/none.git/info/refs", auth=("x-access-token", token))
        await plain.get(f"{gh.url}/app", headers={"Authorization": "weird"})

    logged = repr(gh.state.requests)
    assert token not in logged
    assert token.removeprefix("ghs_")[:8] not in logged
    assert [r.headers.get("authorization") for r in gh.state.requests] == [
        "Bearer eyJ[REDACTED]",  # the token is minted with the App's JWT
        "token ghs_[REDACTED]",
        "Bearer eyJ[REDACTED]",
        "Basic [REDACTED]",
        "[REDACTED]",
    ]
