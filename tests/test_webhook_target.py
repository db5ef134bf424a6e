"""X-GitHub-Hook-Installation-Target-ID: a signed App delivery for another App is refused (case A11)."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import _client_for
from tests.support import APP_ID, app_fixture_bytes, fixture_json, make_settings, signed_headers

CHECK = app_fixture_bytes("check_run.completed.1.json")


def _headers(target_id: str | None, target_type: str | None = "integration") -> dict[str, str]:
    headers = signed_headers(CHECK, "check_run")
    if target_id is not None:
        headers["x-github-hook-installation-target-id"] = target_id
    if target_type is not None:
        headers["x-github-hook-installation-target-type"] = target_type
    return headers


async def _post(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/webhooks/github", content=CHECK, headers=headers)


@pytest.mark.parametrize("target_type", ["integration", "app"])
async def test_a_delivery_for_another_app_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, redis: Redis, target_type: str
) -> None:
    r = await _post(client, _headers(str(APP_ID + 1), target_type))
    assert r.status_code == 400
    assert r.json() == {"error": f"delivery is for another GitHub App, not App {APP_ID}"}
    assert await redis.dbsize() == 0, "no delivery marker, no job"
    metrics = (await client.get("/metrics")).text
    assert 'autofix_webhook_deliveries_total{event="check_run",outcome="wrong_target"} 1.0' in metrics


async def test_our_own_app_id_is_accepted(client: httpx.AsyncClient, redis: Redis) -> None:
    r = await _post(client, _headers(str(APP_ID)))
    assert r.status_code == 202
    assert len(r.json()["jobs"]) == 1


@pytest.mark.parametrize(
    ("target_id", "target_type"),
    [
        (None, None),  # `autofix replay`, or a proxy that drops the headers
        ("1296269", "repository"),  # a repository webhook with the same secret: no App id to compare
        ("9919", "organization"),
        (None, "integration"),
    ],
)
async def test_deliveries_that_name_no_app_are_judged_by_their_signature_alone(
    client: httpx.AsyncClient, target_id: str | None, target_type: str | None
) -> None:
    assert (await _post(client, _headers(target_id, target_type))).status_code == 202


async def test_without_an_app_id_configured_the_header_is_not_checked(redis: Redis, redis_url: str) -> None:
    settings = make_settings(redis_url=redis_url, github_app_id=None)
    async for client in _client_for(settings, redis_url):
        assert (await _post(client, _headers("1"))).status_code == 202


async def test_an_unsigned_delivery_is_401_before_the_target_is_looked_at(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    headers = _headers(str(APP_ID + 1))
    headers["x-hub-signature-256"] = "sha256=" + "0" * 64
    assert (await _post(client, headers)).status_code == 401


async def test_the_payload_cannot_choose_the_app(client: httpx.AsyncClient, redis: Redis) -> None:
    """A body naming our installation and App does not make another App's delivery ours."""
    payload = fixture_json("check_run.completed.1.json")
    payload["installation"] = {"id": 4242}
    payload["check_run"]["app"]["id"] = APP_ID
    body = httpx.Request("POST", "/", json=payload).content
    headers = signed_headers(body, "check_run")
    headers |= {
        "x-github-hook-installation-target-id": "77",
        "x-github-hook-installation-target-type": "integration",
    }
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 400
    assert await redis.dbsize() == 0
