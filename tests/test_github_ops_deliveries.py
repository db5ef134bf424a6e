"""The App's failed webhook deliveries: listed with the App JWT across cursor pages, redelivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa

from app.github.client import GitHubApp
from app.github.deliveries import Delivery, list_failed_deliveries, parse_delivery, pick_failed, redeliver
from app.github.errors import NotFound, RateLimited, Unprocessable
from tests.github_support import Clock, error
from tests.support import APP_ID

DELIVERIES = "/app/hook/deliveries"


def delivery(
    delivery_id: int,
    guid: str,
    when: datetime,
    *,
    status: str = "OK",
    code: int = 202,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A hook delivery as GET /app/hook/deliveries lists it."""
    return {
        "id": delivery_id, "guid": guid, "delivered_at": when.isoformat().replace("+00:00", "Z"),
        "redelivery": redelivery, "duration": 0.27, "status": status, "status_code": code,
        "event": "check_run", "action": "completed", "installation_id": 4242, "repository_id": 1296269,
        "throttled_at": None,
    }  # fmt: skip


NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


def _parsed(*items: dict[str, Any]) -> list[Delivery]:
    return [parse_delivery(i) for i in items]


def test_pick_failed_skips_guids_that_later_succeeded() -> None:
    found = pick_failed(
        _parsed(
            delivery(6, "g-redelivered", at(1), redelivery=True),  # the redelivery worked
            delivery(5, "g-timeout", at(2), status="timed out", code=0),
            delivery(4, "g-503", at(3), status="Invalid HTTP Response: 503", code=503),
            delivery(3, "g-redelivered", at(4), status="Invalid HTTP Response: 503", code=503),
            delivery(2, "g-ok", at(5)),
            delivery(1, "g-503", at(6), status="Invalid HTTP Response: 503", code=503),
        ),
        since=at(24),
    )
    assert [(d.id, d.guid) for d in found] == [(4, "g-503"), (5, "g-timeout")]  # oldest first, latest try


def test_pick_failed_counts_a_4xx_with_ok_status_as_failed_and_keeps_the_window() -> None:
    found = pick_failed(
        _parsed(
            delivery(2, "g-401", at(1), code=401), delivery(1, "g-old", at(80), status="timed out", code=0)
        ),
        since=at(72),
    )
    assert [d.guid for d in found] == ["g-401"]


@pytest.fixture
def at_now(clock: Clock) -> Clock:
    clock.now = NOW.timestamp()
    return clock


async def test_list_failed_follows_cursor_pages_with_the_app_jwt(
    github: GitHubApp, at_now: Clock, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    page2 = f"https://api.github.com{DELIVERIES}?per_page=100&cursor=v1_12077215967"
    # the more specific route first: respx takes the first route that matches
    second = api.get(DELIVERIES, params={"cursor": "v1_12077215967"}).respond(
        200,
        json=[
            delivery(7, "g-bad2", at(30), status="Invalid HTTP Response: 503", code=503),
            delivery(6, "g-too-old", at(80), status="timed out", code=0),  # past GitHub's 3 days
            delivery(5, "g-older", at(90), status="timed out", code=0),
        ],
        headers={"link": f'<{page2}x>; rel="next"'},  # never followed: the page already went past the window
    )
    first = api.get(DELIVERIES).respond(
        200,
        json=[delivery(9, "g-ok", at(1)), delivery(8, "g-bad", at(2), status="timed out", code=0)],
        headers={"link": f'<{page2}>; rel="next"'},
    )
    found = await list_failed_deliveries(github, since=NOW - timedelta(days=30))
    assert [d.guid for d in found] == ["g-bad2", "g-bad"]
    assert second.call_count == 1
    scheme, _, token = first.calls.last.request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    assert jwt.decode(token, key.public_key(), algorithms=["RS256"])["iss"] == str(APP_ID)


async def test_since_must_be_aware(github: GitHubApp) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await list_failed_deliveries(github, since=datetime(2026, 11, 21))


async def test_list_failed_rate_limited(github: GitHubApp, api: respx.MockRouter) -> None:
    api.get(DELIVERIES).mock(return_value=error(429, "Too many", **{"retry-after": "60"}))
    with pytest.raises(RateLimited):
        await list_failed_deliveries(github, since=NOW)


async def test_redeliver(github: GitHubApp, api: respx.MockRouter) -> None:
    attempts = api.post(f"{DELIVERIES}/12077215967/attempts").respond(202, json={})
    await redeliver(github, 12077215967)
    assert attempts.calls.last.request.headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("response", "kind"),
    [(error(404, "Not Found"), NotFound), (error(422, "Validation Failed"), Unprocessable)],
)
async def test_redeliver_errors(
    github: GitHubApp, api: respx.MockRouter, response: Any, kind: type[Exception]
) -> None:
    api.post(f"{DELIVERIES}/1/attempts").mock(return_value=response)
    with pytest.raises(kind):
        await redeliver(github, 1)
