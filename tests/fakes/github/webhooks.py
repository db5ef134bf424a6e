"""Hookshot: signed webhook deliveries to the App's URL, sent in order from a background thread.

Route handlers run in the server's event loop and must not block on the receiver (which may call
back into this GitHub), so deliveries are queued; `flush()` waits until all were answered.
Every delivery is recorded for GET /app/hook/deliveries and can be redelivered with its guid.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.signatures import sign
from tests.fakes.github.shapes import iso
from tests.fakes.github.state import GitHubState

HOOK_ID = 4_710_001
USER_AGENT = "GitHub-Hookshot/9b2f1c4"


@dataclass
class Delivery:
    id: int
    guid: str
    event: str
    body: bytes
    installation_id: int | None
    repository_id: int | None
    redelivery: bool = False
    delivered_at: float = 0.0
    status_code: int = 0
    duration: float = 0.0
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def action(self) -> str | None:
        return self.payload.get("action")


def render_delivery(d: Delivery) -> dict[str, Any]:
    ok = 200 <= d.status_code < 300
    return {
        "id": d.id,
        "guid": d.guid,
        "delivered_at": iso(d.delivered_at),
        "redelivery": d.redelivery,
        "duration": round(d.duration, 2),
        "status": "OK"
        if ok
        else (f"Invalid HTTP Response: {d.status_code}" if d.status_code else "timed out"),
        "status_code": d.status_code,
        "event": d.event,
        "action": d.action,
        "installation_id": d.installation_id,
        "repository_id": d.repository_id,
        "throttled_at": None,
    }


class Hookshot:
    def __init__(self, state: GitHubState, url: str, secret: str, app_id: int) -> None:
        self.state, self.url, self.secret, self.app_id = state, url, secret, app_id
        self.queue: queue.Queue[Delivery | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        state.deliver, state.hookshot = self.enqueue, self

    def enqueue(self, event: str, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload, indent=2).encode()
        inst = (payload.get("installation") or {}).get("id")
        repo_id = (payload.get("repository") or {}).get("id")
        delivery = Delivery(self.state.next_id(), str(uuid.uuid4()), event, body, inst, repo_id)
        with self.state.lock:
            self.state.hook_deliveries.append(delivery)
        self.queue.put(delivery)
        return delivery

    def redeliver(self, original: Delivery) -> Delivery:
        again = Delivery(
            self.state.next_id(),
            original.guid,
            original.event,
            original.body,
            original.installation_id,
            original.repository_id,
            redelivery=True,
        )
        with self.state.lock:
            self.state.hook_deliveries.append(again)
        self.queue.put(again)
        return again

    def headers(self, d: Delivery) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "x-github-event": d.event,
            "x-github-delivery": d.guid,
            "x-hub-signature-256": sign(self.secret.encode(), d.body),
            "x-github-hook-id": str(HOOK_ID),
            "x-github-hook-installation-target-id": str(self.app_id),
            "x-github-hook-installation-target-type": "integration",
        }

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (d := self.queue.get()) is not None:
                start = time.monotonic()
                d.delivered_at = self.state.clock()
                try:
                    d.status_code = client.post(self.url, content=d.body, headers=self.headers(d)).status_code
                except httpx.HTTPError:
                    d.status_code = 0
                d.duration = time.monotonic() - start
                d.done.set()

    def flush(self, timeout: float = 10) -> list[Delivery]:
        """Wait until every queued delivery was answered; all deliveries so far."""
        for d in list(self.state.hook_deliveries):
            if not d.done.wait(timeout):
                raise TimeoutError(f"delivery {d.guid} ({d.event}) not answered in {timeout}s")
        return list(self.state.hook_deliveries)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(10)
        self.state.deliver = self.state.hookshot = None
