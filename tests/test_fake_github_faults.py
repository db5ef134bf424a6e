"""Fault injection on the local GitHub: what githubkit and httpx see for each fault, and the countdown."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestError,
    RequestFailed,
    SecondaryRateLimitExceeded,
)

from tests.fakes.github import faults
from tests.support import OWNER, LocalGitHub

ISSUE = r"/repos/[^/]+/demo/issues/1$"


@pytest.fixture
def gh(gh: LocalGitHub) -> LocalGitHub:
    served = gh
    repo = served.sim.create_repo(OWNER, "demo")
    served.sim.open_issue(repo, "broken")
    return served


@pytest.mark.parametrize(
    ("code", "message"), [(500, "Server Error"), (502, "Server Error"), (503, "Service Unavailable")]
)
async def test_status_faults_fire_in_order_then_the_route_answers(
    gh: LocalGitHub, code: int, message: str
) -> None:
    client = gh.client()
    await client.rest.issues.async_get(OWNER, "demo", 1)  # the token is fetched before any fault
    gh.state.faults.add("GET", ISSUE, faults.status(code), times=2)
    gh.state.faults.add("GET", ISSUE, faults.status(404))
    answers = []
    for _ in range(3):
        with pytest.raises(RequestFailed) as err:
            await client.rest.issues.async_get(OWNER, "demo", 1)
        answers.append((err.value.response.status_code, err.value.response.json()["message"]))
    ok = await client.rest.issues.async_get(OWNER, "demo", 1)

    assert answers == [(code, message), (code, message), (404, "Server Error")]
    assert ok.parsed_data.number == 1
    assert [kind for _, _, kind in gh.state.faults.fired] == ["status"] * 3
    assert gh.state.faults.fired[0][1] == f"/repos/{OWNER}/demo/issues/1"
    assert gh.state.faults.pending == 0


async def test_rate_limit_faults_are_recognised_by_githubkit(gh: LocalGitHub) -> None:
    client = gh.client()
    await client.rest.issues.async_get(OWNER, "demo", 1)
    armed = [
        faults.secondary_limit(30),
        faults.secondary_limit(),
        faults.too_many(7),
        faults.primary_limit(120),
    ]
    for fault in armed:
        gh.state.faults.add("GET", ISSUE, fault)
    seen = []
    for _ in armed:
        with pytest.raises(RequestFailed) as err:
            await client.rest.issues.async_get(OWNER, "demo", 1)
        seen.append(err.value)

    secondary, bare, too_many, primary = seen
    assert isinstance(secondary, SecondaryRateLimitExceeded)
    assert secondary.retry_after == timedelta(seconds=30)
    body = secondary.response.json()
    assert body["message"].startswith("You have exceeded a secondary rate limit.")
    assert body["message"].endswith(f"request ID {secondary.response.headers['x-github-request-id']}.")
    assert body["documentation_url"].endswith("#about-secondary-rate-limits")
    assert (body["status"], secondary.response.status_code) == ("403", 403)
    # githubkit reads the message only beside `x-ratelimit-remaining: 0`, which a secondary limit lacks
    assert not isinstance(bare, SecondaryRateLimitExceeded)
    assert "secondary rate limit" in bare.response.json()["message"]
    assert "retry-after" not in bare.response.headers
    assert isinstance(too_many, SecondaryRateLimitExceeded)
    assert (too_many.response.status_code, too_many.retry_after) == (429, timedelta(seconds=7))
    assert isinstance(primary, PrimaryRateLimitExceeded)
    assert (
        primary.response.json()["message"]
        == f"API rate limit exceeded for installation ID {gh.installation_id}."
    )
    assert primary.response.headers["x-ratelimit-remaining"] == "0"
    assert 110 <= primary.retry_after.total_seconds() <= 121


async def test_drop_is_a_transport_error_and_latency_delays(gh: LocalGitHub) -> None:
    client = gh.client()
    await client.rest.issues.async_get(OWNER, "demo", 1)
    gh.state.faults.add("*", ISSUE, faults.drop())
    gh.state.faults.add("GET", ISSUE, faults.latency(0.3))
    with pytest.raises(RequestError) as err:
        await client.rest.issues.async_get(OWNER, "demo", 1)
    gh.state.faults.add("GET", "/repos", faults.drop())
    async with httpx.AsyncClient() as plain:
        with pytest.raises(httpx.RemoteProtocolError):  # what the edge's own httpx calls see
            await plain.get(f"{gh.url}/repos/{OWNER}/demo")
    start = time.monotonic()
    slow = await client.rest.issues.async_get(OWNER, "demo", 1)

    assert isinstance(err.value.exc, httpx.RemoteProtocolError | httpx.ReadError)
    assert time.monotonic() - start >= 0.3
    assert slow.status_code == 200


async def test_rate_limit_counts_down_to_a_primary_limit_until_reset(gh: LocalGitHub) -> None:
    gh.state.rate_limit, gh.state.rate_window = 3, 60
    client = gh.client()
    remaining = []
    for _ in range(3):
        remaining.append(
            (await client.rest.issues.async_get(OWNER, "demo", 1)).headers["x-ratelimit-remaining"]
        )
    with pytest.raises(PrimaryRateLimitExceeded) as err:
        await client.rest.issues.async_get(OWNER, "demo", 1)
    gh.state.clock = lambda: time.time() + 61  # the window has passed
    after = await client.rest.issues.async_get(OWNER, "demo", 1)

    assert remaining == ["2", "1", "0"]
    assert err.value.response.status_code == 403
    assert (
        err.value.response.json()["message"]
        == f"API rate limit exceeded for installation ID {gh.installation_id}."
    )
    assert 55 <= err.value.retry_after.total_seconds() <= 61
    assert after.headers["x-ratelimit-remaining"] == "2"
