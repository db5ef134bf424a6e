"""The App's webhook deliveries (JWT-authenticated): find the ones that failed, and redeliver them.

GitHub does not retry a failed delivery by itself and keeps deliveries for 3 days; a periodic job
redelivers what failed (our outage, a 503 while Redis was down). A redelivery keeps its GUID, so a
delivery whose GUID later succeeded is not sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.github.client import GitHubApp
from app.github.rest import Json, fetch_pages, request

RETENTION = timedelta(days=3)
MAX_PAGES = 50


@dataclass(frozen=True)
class Delivery:
    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None

    @property
    def ok(self) -> bool:
        return self.status == "OK" and 200 <= self.status_code < 400


def parse_delivery(data: Json) -> Delivery:
    return Delivery(
        id=int(data["id"]),
        guid=str(data["guid"]),
        delivered_at=datetime.fromisoformat(str(data["delivered_at"])),
        redelivery=bool(data.get("redelivery")),
        status=str(data.get("status") or ""),
        status_code=int(data.get("status_code") or 0),  # 0: no answer (timed out)
        event=str(data.get("event") or ""),
        action=data.get("action"),
        installation_id=data.get("installation_id"),
        repository_id=data.get("repository_id"),
    )


def pick_failed(deliveries: Iterable[Delivery], since: datetime) -> list[Delivery]:
    """The latest failed attempt of each GUID delivered since `since` that never succeeded,
    oldest first (the order to redeliver in)."""
    latest: dict[str, Delivery] = {}
    succeeded: set[str] = set()
    for delivery in deliveries:
        if delivery.delivered_at < since:
            continue
        if delivery.ok:
            succeeded.add(delivery.guid)
        elif delivery.guid not in latest or delivery.delivered_at > latest[delivery.guid].delivered_at:
            latest[delivery.guid] = delivery
    failed = [d for guid, d in latest.items() if guid not in succeeded]
    return sorted(failed, key=lambda d: d.delivered_at)


async def list_failed_deliveries(app: GitHubApp, since: datetime) -> list[Delivery]:
    """Failed deliveries since `since` (aware; at most 3 days back: GitHub keeps no more)."""
    if since.tzinfo is None:
        raise ValueError("`since` must carry a time zone")
    start = max(since, datetime.fromtimestamp(app.clock(), since.tzinfo) - RETENTION)
    seen: list[Delivery] = []
    async with aclosing(fetch_pages(app.call, "/app/hook/deliveries", max_pages=MAX_PAGES)) as found:
        async for item in found:
            delivery = parse_delivery(item)
            if delivery.delivered_at < start:
                break  # newest first: the rest is older still
            seen.append(delivery)
    return pick_failed(seen, start)


async def redeliver(app: GitHubApp, delivery_id: int) -> None:
    """Ask GitHub to send delivery `delivery_id` again (it answers 202 Accepted)."""
    await app.call(request("POST", f"/app/hook/deliveries/{delivery_id}/attempts"))
