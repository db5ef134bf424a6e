"""Random bodies and headers at the endpoint: never a 5xx (Redis is up, so not even 503)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from app.routing import handled_events
from tests.support import all_fixture_names, app_fixture, event_of, signed_headers

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
EVENTS = st.sampled_from(sorted(handled_events() | {"ping", "push"})) | HEADER_TEXT


def _mutate(payload: Any, path: list[str | int], value: Any) -> Any:
    """Replace the subtree at `path` (as far as it exists) with `value`."""
    node = payload
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            node = node[sorted(node)[hash(step) % len(node)]]
        elif isinstance(node, list) and node:
            node = node[hash(step) % len(node)]
    if isinstance(node, dict) and node:
        node[sorted(node)[hash(path[-1]) % len(node)]] = value
    return payload


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["fixture", "json", "bytes"]))
    if kind == "bytes":
        return draw(EVENTS), draw(st.binary(max_size=300))
    if kind == "json":
        return draw(EVENTS), json.dumps(draw(JSON_VALUES)).encode()
    name = draw(st.sampled_from(all_fixture_names()))
    path = draw(st.lists(st.text(max_size=3) | st.integers(), min_size=1, max_size=4))
    payload = _mutate(app_fixture(name), path, draw(JSON_VALUES))  # as an App gets it: may reach the queue
    event = draw(st.just(event_of(name)) | EVENTS)
    return event, json.dumps(payload).encode()


@st.composite
def headers(draw: st.DrawFn, event: str, body: bytes) -> dict[str, bytes]:
    h = signed_headers(body, "placeholder", draw(st.uuids().map(str) | HEADER_TEXT))
    h["x-github-event"] = event
    for name in ("x-github-event", "x-github-delivery", "x-hub-signature-256"):
        choice = draw(st.sampled_from(["keep", "keep", "drop", "random"]))
        if choice == "drop":
            del h[name]
        elif choice == "random":
            h[name] = draw(HEADER_TEXT)
    # any latin-1 byte a client could send, except control characters HTTP would not carry
    return {k: v.encode("latin-1") for k, v in h.items() if v.isprintable() or not v}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_random_deliveries_never_get_a_5xx(client: httpx.AsyncClient, redis: Redis, data: Any) -> None:
    event, body = data.draw(bodies())
    h = data.draw(headers(event, body))
    r = await client.post("/webhooks/github", content=body, headers=h)
    event_label = f"status {r.status_code}"
    hypothesis.event(event_label)
    assert r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    if r.status_code == 401:
        assert r.json()["error"] == "missing or invalid X-Hub-Signature-256"
