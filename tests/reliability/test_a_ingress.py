"""Checklist A, webhook ingress: the cases tests/test_webhook*.py do not already pin down.

Each test is named after its case in docs/RELIABILITY.md and quotes the expected behaviour.
Real signatures, the app in-process, a real Redis ("nothing enqueued" = an empty database).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from redis.asyncio import Redis

from app.routing import NO_INSTALLATION
from app.signatures import sign
from tests.support import (
    SECRET,
    actionable_deliveries,
    app_delivery,
    fixture_bytes,
    fixture_json,
    signed_headers,
)

CHECK = "check_run.completed.1.json"
URL = "/webhooks/github"


async def _post(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str] | list[tuple[str, str]]
) -> httpx.Response:
    return await client.post(URL, content=body, headers=headers)


async def test_A1_missing_signature_is_401_before_the_body_is_read_as_json(
    client: httpx.AsyncClient, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A1: missing X-Hub-Signature-256 -> 401, body not parsed, nothing enqueued, no stack trace in logs.

    The body is not JSON: a 400 would show it was parsed before the signature was checked."""
    for body in (b"{not json", fixture_bytes(CHECK)):
        headers = signed_headers(body, "check_run")
        del headers["x-hub-signature-256"]
        with caplog.at_level(logging.DEBUG):
            r = await _post(client, body, headers)
        assert r.status_code == 401
        assert r.json() == {"error": "missing or invalid X-Hub-Signature-256"}
    assert await redis.dbsize() == 0
    assert not [rec for rec in caplog.records if rec.exc_info], "a refused delivery logged a traceback"
    assert "Traceback" not in caplog.text


def _valid(body: bytes) -> str:
    return sign(SECRET.encode(), body)


def _malformed(body: bytes) -> dict[str, str]:
    good = _valid(body)
    digest = good.removeprefix("sha256=")
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    return {
        "legacy sha1 only": sha1,
        "prefix without digest": "sha256=",
        "non-hex digest": "sha256=" + "z" * 64,
        "uppercase hex": "sha256=" + digest.upper(),
        "uppercase prefix": "SHA256=" + digest,
        "leading space inside": "sha256= " + digest,
        "trailing garbage": good + "00",
        "truncated": good[:-2],
        "two values in one header": f"{good},{good}",
        "non-ascii": "sha256=" + digest[:-1] + "\u00e9",
    }


@pytest.mark.parametrize("case", sorted(_malformed(b"x")))
async def test_A4_malformed_signature_headers(client: httpx.AsyncClient, redis: Redis, case: str) -> None:
    """A4: sha1=…, sha256=, non-hex, uppercase hex, two headers, whitespace -> 401 (never 500), nothing
    enqueued."""
    body = fixture_bytes(CHECK)
    headers = signed_headers(body, "check_run")
    headers["x-hub-signature-256"] = _malformed(body)[case]
    raw = {k.encode(): v.encode("utf-8") for k, v in headers.items()}  # a non-ASCII value goes as UTF-8
    r = await client.post(URL, content=body, headers=raw)
    assert r.status_code == 401, case
    assert await redis.dbsize() == 0


async def test_A4_two_signature_headers_with_the_wrong_one_last(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    """A4 (two headers): a request carrying two X-Hub-Signature-256 headers -> 401, nothing enqueued."""
    body = fixture_bytes(CHECK)
    base = [(k, v) for k, v in signed_headers(body, "check_run").items() if k != "x-hub-signature-256"]
    r = await _post(
        client, body, [*base, ("x-hub-signature-256", _valid(body)), ("x-hub-signature-256", "x")]
    )
    assert r.status_code == 401
    assert await redis.dbsize() == 0


async def test_A4_two_signature_headers_with_the_valid_one_last(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    """A4 (two headers): a request carrying two X-Hub-Signature-256 headers -> 401, nothing enqueued."""
    body = fixture_bytes(CHECK)
    base = [(k, v) for k, v in signed_headers(body, "check_run").items() if k != "x-hub-signature-256"]
    r = await _post(
        client, body, [*base, ("x-hub-signature-256", "x"), ("x-hub-signature-256", _valid(body))]
    )
    assert r.status_code == 401
    assert await redis.dbsize() == 0


def _signed(payload: dict[str, Any], event: str) -> tuple[bytes, dict[str, str]]:
    body = httpx.Request("POST", "http://x", json=payload).content
    return body, signed_headers(body, event)


async def test_A6_a_form_encoded_delivery_is_415(client: httpx.AsyncClient, redis: Redis) -> None:
    """A6: valid signature but non-JSON content -> 415 (unsupported media type), nothing enqueued.

    GitHub sends `payload=<urlencoded JSON>` when a hook is set to application/x-www-form-urlencoded."""
    body = urlencode({"payload": fixture_bytes(CHECK).decode()}).encode()
    headers = signed_headers(body, "check_run") | {"content-type": "application/x-www-form-urlencoded"}
    r = await _post(client, body, headers)
    assert r.status_code == 415
    assert await redis.dbsize() == 0


async def test_A6_json_without_a_repository_is_400(client: httpx.AsyncClient, redis: Redis) -> None:
    """A6: valid signature, JSON missing `repository` -> 400, nothing enqueued."""
    payload = fixture_json(CHECK)
    del payload["repository"]
    body = httpx.Request("POST", "http://x", json=payload).content
    r = await _post(client, body, signed_headers(body, "check_run"))
    assert r.status_code == 400
    assert "repository" in r.json()["error"]
    assert await redis.dbsize() == 0


async def test_A6_json_without_an_installation_is_400(
    client: httpx.AsyncClient, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A6: valid signature, JSON missing `installation` -> 400, nothing enqueued (an App's deliveries
    always name the installation; without one the worker has no token to act with)."""
    payload = fixture_json("issues.labeled.2.json")  # a labelled `autofix` issue, from an App's delivery
    payload["label"]["name"] = "autofix"
    assert (await _post(client, *_signed(payload, "issues"))).status_code == 202  # as delivered: a job
    await redis.flushdb()
    del payload["installation"]
    body, headers = _signed(payload, "issues")
    with caplog.at_level(logging.INFO, logger="autofix.webhook"):
        r = await _post(client, body, headers)
    assert r.status_code == 400
    assert r.json() == {"delivery": headers["x-github-delivery"], "error": NO_INSTALLATION}
    assert await redis.dbsize() == 0
    [line] = [rec for rec in caplog.records if rec.getMessage().startswith("rejected")]  # not silent
    assert "'installation'" in line.getMessage()
    assert line.levelno == logging.WARNING


@pytest.mark.parametrize("kind", sorted(actionable_deliveries()))
async def test_A6_no_kind_of_work_is_enqueued_without_an_installation(
    client: httpx.AsyncClient, redis: Redis, kind: str
) -> None:
    """A6: every delivery that would start or steer work (a fix, a command, a record) is 400 naming
    `installation` when it has none, and stores nothing; the same delivery with one is a job."""
    event, payload = actionable_deliveries()[kind]
    without = {k: v for k, v in payload.items() if k != "installation"}
    r = await _post(client, *_signed(without, event))
    assert r.status_code == 400
    assert "'installation'" in r.json()["error"]
    assert await redis.dbsize() == 0
    accepted = await _post(client, *_signed(payload, event))
    assert accepted.status_code == 202
    assert accepted.json()["jobs"], f"{kind}: not a case that asks for work"


async def test_A6_a_non_json_content_type_is_415(client: httpx.AsyncClient, redis: Redis) -> None:
    """A6: valid signature but non-JSON Content-Type -> 415, nothing enqueued."""
    body = fixture_bytes(CHECK)
    r = await _post(client, body, signed_headers(body, "check_run") | {"content-type": "text/plain"})
    assert r.status_code == 415
    assert await redis.dbsize() == 0


def _irrelevant() -> dict[str, tuple[str, dict[str, Any]]]:
    success = fixture_json(CHECK)
    success["check_run"]["conclusion"] = "success"
    bug = fixture_json("issues.labeled.1.json")
    bug["label"]["name"] = "bug"
    return {
        "ping": ("ping", fixture_json("ping.none.1.json")),
        "check_run.created": ("check_run", fixture_json("check_run.created.1.json")),
        "check_run.completed success": ("check_run", success),
        "issues.labeled bug": ("issues", bug),
        "issues.opened": ("issues", fixture_json("issues.opened.1.json")),
        "an event autofix does not subscribe to": ("star", {"action": "created", "repository": {}}),
    }


@pytest.mark.parametrize("case", sorted(_irrelevant()))
async def test_A7_irrelevant_events_are_answered_fast_and_store_nothing(
    client: httpx.AsyncClient, redis: Redis, case: str
) -> None:
    """A7: irrelevant event or action (ping, check_run.created, issues.labeled `bug`,
    check_run.completed success, …) -> 2xx fast (< 100 ms), nothing enqueued."""
    event, payload = _irrelevant()[case]
    body = httpx.Request("POST", "http://x", json=payload).content
    await _post(client, body, signed_headers(body, event))  # warm: the first request pays for imports
    await redis.flushdb()
    started = time.perf_counter()
    r = await _post(client, body, signed_headers(body, event))
    elapsed = time.perf_counter() - started
    assert r.status_code in (200, 202)
    assert r.json().get("jobs", []) == []
    assert elapsed < 0.1, f"{case}: {elapsed * 1000:.0f} ms"
    assert await redis.dbsize() == 0


@pytest.mark.parametrize("case", sorted(_irrelevant()))
async def test_A6_ping_and_ignored_events_keep_their_answer_without_an_installation(
    client: httpx.AsyncClient, redis: Redis, case: str
) -> None:
    """A6, no regression: a delivery that asks for nothing gets the same answer with or without
    `installation` (an App's `ping` names none: it is about the App's hook, not an installation)."""
    event, payload = _irrelevant()[case]
    payload.pop("installation", None)
    without = await _post(client, *_signed(payload, event))
    with_one = await _post(client, *_signed(app_delivery(payload), event))
    assert without.status_code == with_one.status_code == (200 if event == "ping" else 202)
    assert {k: v for k, v in without.json().items() if k != "delivery"} == {
        k: v for k, v in with_one.json().items() if k != "delivery"
    }
    assert await redis.dbsize() == 0
