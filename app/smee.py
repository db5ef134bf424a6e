"""The webhook proxy client: deliveries posted to a smee.io-style channel reach this server.

A laptop has no public URL, so GitHub posts to a channel (`WEBHOOK_PROXY_URL`, e.g.
https://smee.io/AbC123) and this client, connected to the channel's server-sent event stream, posts
each one to the local webhook endpoint, as Probot does in development.

The protocol (smee.io's server): named events `ready` and `ping` carry nothing; every other event's
data is one JSON object: the request's headers (lower-cased), `body` (the parsed JSON payload),
`query` and `timestamp`. The body is re-serialised compactly, as smee-client does with
`JSON.stringify`; GitHub signs compact JSON, so the signature still verifies, and a payload that does
not survive the round trip is refused by our signature check like any other bad delivery.

Only GitHub's own headers are forwarded; a channel is public, so what arrives through it gets no
more trust than what arrives directly: the signature decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from sandbox_runner.redact import redact

log = logging.getLogger("autofix.smee")
FORWARDED = frozenset(
    {
        "content-type",
        "user-agent",
        "x-github-event",
        "x-github-delivery",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
    }
)
MAX_BACKOFF_S = 30.0


def to_delivery(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A channel message -> the body and headers to post to the webhook endpoint."""
    body = json.dumps(data.get("body"), separators=(",", ":"), ensure_ascii=False).encode()
    headers = {k: str(v) for k, v in data.items() if k.lower() in FORWARDED and isinstance(v, str | int)}
    headers.setdefault("content-type", "application/json")
    return body, headers


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) for each server-sent event; the name is "message" when none is given."""
    event, data = "message", list[str]()
    async for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue  # a comment: keep-alive
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


async def relay_once(source: str, target: str, client: httpx.AsyncClient) -> int:
    """Connect to `source` and relay until the stream ends; the number of deliveries relayed."""
    relayed = 0
    async with client.stream("GET", source, headers={"Accept": "text/event-stream"}, timeout=None) as stream:
        stream.raise_for_status()
        log.info("webhook proxy connected: %s -> %s", redact(source), target)
        async for event, raw in sse_events(stream.aiter_lines()):
            if event != "message":
                continue  # ready, ping
            try:
                data = json.loads(raw)
                body, headers = to_delivery(data)
            except (ValueError, AttributeError) as e:
                log.warning("webhook proxy: unreadable message skipped (%s)", e)
                continue
            try:
                answer = await client.post(target, content=body, headers=headers, timeout=15)
                log.info(
                    "webhook proxy relayed %s: %d",
                    headers.get("x-github-event", "?"),
                    answer.status_code,
                    extra={"delivery_id": headers.get("x-github-delivery")},
                )
                relayed += 1
            except httpx.HTTPError as e:
                log.warning("webhook proxy: local endpoint unreachable: %s", e)
    return relayed


async def run_proxy(source: str, target: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Relay forever, reconnecting with a backoff (1 s, doubling to 30 s) whenever the stream drops."""
    backoff = 1.0
    async with httpx.AsyncClient(transport=transport) as client:
        while True:
            try:
                await relay_once(source, target, client)
                backoff = 1.0
            except httpx.HTTPError as e:
                log.warning("webhook proxy: %s; reconnecting in %.0f s", e, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
