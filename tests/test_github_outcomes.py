"""GitHub errors inside a real arq worker: retried at the time GitHub named, or stopped with a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from arq import create_pool
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from app.audit import read_audit
from app.queue import RESULT_PREFIX, deserialize, serialize
from app.settings import Settings
from jobs.worker import build_worker, redis_settings
from tests.support import make_settings
from tests.test_github_client import API, INSTALLATION, _mint

ISSUE = {"number": 1, "title": "Broken", "state": "open"}


async def read_issue(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job that reads an issue through the worker's GitHub client, as the pipeline will."""
    inst = ctx["github"].installation(request["installation_id"], attempt=ctx["job_try"])
    response = await inst.read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    return {"title": response.json()["title"], "try": ctx["job_try"]}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def worker_settings(key: Any, redis_url: str) -> Settings:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return make_settings(github_private_key=pem, redis_url=redis_url)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


async def _run(settings: Settings, redis: Redis, redis_url: str) -> tuple[Any, Any, float]:
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job("read_issue", {"installation_id": INSTALLATION}, _job_id="probe")
    await pool.aclose()
    worker = build_worker(
        settings, redis_url, burst=True, handle_signals=False, functions={"read_issue": read_issue}
    )
    started = time.monotonic()
    try:
        await worker.async_run()
    finally:
        await worker.close()
    result = deserialize(await redis.get(RESULT_PREFIX + "probe"))
    return worker, result, time.monotonic() - started


async def test_a_secondary_rate_limit_is_retried_when_github_said_and_finishes(
    worker_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    _mint(api, key, ["ghs_a"])
    limited = httpx.Response(403, headers={"retry-after": "2"}, json={"message": "secondary rate limit"})
    route = api.get("/repos/o/r/issues/1").mock(side_effect=[limited, httpx.Response(200, json=ISSUE)])

    worker, result, elapsed = await _run(worker_settings, redis, redis_url)

    assert result["s"] is True
    assert result["r"] == {"title": "Broken", "try": 2}
    assert worker.jobs_retried == 1
    assert route.call_count == 2
    assert elapsed >= 2, "the retry waited for retry-after instead of hammering GitHub"


async def test_a_permission_403_is_not_retried_and_says_why(
    worker_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    _mint(api, key, ["ghs_a"])
    route = api.get("/repos/o/r/issues/1").respond(
        403, json={"message": "Resource not accessible by integration"}
    )

    worker, result, _ = await _run(worker_settings, redis, redis_url)

    assert route.call_count == 1
    assert worker.jobs_retried == 0
    assert result["s"] is True
    assert "Resource not accessible by integration" in result["r"]["gave_up"]
    [entry] = [e for e in await read_audit(redis) if e["kind"] == "job.give_up"]
    assert entry["job_id"] == "probe"


async def test_a_missing_repository_fails_once(
    worker_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    _mint(api, key, ["ghs_a"])
    route = api.get("/repos/o/r/issues/1").respond(404, json={"message": "Not Found"})

    worker, result, _ = await _run(worker_settings, redis, redis_url)

    assert route.call_count == 1
    assert (worker.jobs_failed, worker.jobs_retried) == (1, 0)
    assert result["s"] is False
    assert "Not Found" in result["r"]
    assert [e["kind"] for e in await read_audit(redis)] == ["job.fail"]
