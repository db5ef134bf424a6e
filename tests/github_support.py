"""Shared doubles for tests of the GitHub edge: the test App's key and settings, a fake clock, a
respx router standing in for api.github.com, a token-minting route that checks the App JWT, and
`gh`, the local GitHub served on loopback.

The fixtures are registered for every test module through tests/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import respx
from arq import create_pool
from arq.worker import Worker
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from app.github.client import GitHubApp, Installation
from app.queue import RESULT_PREFIX, deserialize, serialize
from app.settings import Settings
from jobs.github_outcomes import JobFunction
from jobs.worker import build_worker, redis_settings
from tests.support import APP_ID, LocalGitHub, local_github, make_settings

API = "https://api.github.com"
INSTALLATION = 4242
TOKEN = "ghs_" + "t0k3n" * 8


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture(scope="session")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def app_key(key: rsa.RSAPrivateKey) -> str:
    """The test App's private key as PEM (PKCS#1, like the file GitHub lets you download)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def app_settings(app_key: str, redis_url: str) -> Settings:
    return make_settings(github_private_key=app_key, redis_url=redis_url)


@pytest.fixture
def gh(tmp_path: Path, app_key: str) -> Iterator[LocalGitHub]:
    """A local GitHub on a loopback port, with the test App installed on OWNER."""
    with local_github(tmp_path / "github", app_key) as served:
        yield served


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def github(app_settings: Settings, redis: Redis, clock: Clock) -> GitHubApp:
    return GitHubApp(app_settings, redis, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def inst(github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter) -> Installation:
    """An installation whose token (`TOKEN`) the respx GitHub mints on first use."""
    mint(api, key, [TOKEN] * 3)
    return github.installation(INSTALLATION)


def mint(router: respx.MockRouter, key: rsa.RSAPrivateKey, tokens: list[str]) -> respx.Route:
    """POST access_tokens, checking the App JWT like GitHub does; hands out `tokens` in turn."""
    issued = iter(tokens)

    def handler(request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers["authorization"].partition(" ")
        claims = jwt.decode(token, key.public_key(), algorithms=["RS256"])
        assert scheme.lower() == "bearer"
        assert claims["iss"] == str(APP_ID)
        assert time.time() - 70 <= claims["iat"] <= time.time() - 50, "iat is backdated ~60 s"
        assert claims["exp"] - time.time() <= 600, "exp is under 10 minutes away"
        expires = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat().replace("+00:00", "Z")
        body = {"token": next(issued), "expires_at": expires, "permissions": {"issues": "write"}}
        return httpx.Response(201, json=body)

    return router.post(f"/app/installations/{INSTALLATION}/access_tokens").mock(side_effect=handler)


def error(status: int, message: str, **headers: str) -> httpx.Response:
    """An error answer shaped like GitHub's (message + documentation_url)."""
    doc = "https://docs.github.com/rest"
    return httpx.Response(status, headers=headers, json={"message": message, "documentation_url": doc})


PERMISSION_403 = "Resource not accessible by integration"
SECONDARY_403 = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


async def run_one_job(
    settings: Settings, redis: Redis, redis_url: str, function: JobFunction, request: dict[str, Any]
) -> tuple[Worker, Any, float]:
    """Enqueue `function(request)` as job "probe" and run a burst worker until the queue is empty
    (deferred retries included). Returns the worker, the job's stored result and the seconds taken."""
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job(function.__name__, request, _job_id="probe")
    await pool.aclose()
    worker = build_worker(
        settings, redis_url, burst=True, handle_signals=False, functions={function.__name__: function}
    )
    started = time.monotonic()
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker, deserialize(await redis.get(RESULT_PREFIX + "probe")), time.monotonic() - started


async def stored_text(redis: Redis) -> str:
    """Every value in Redis except the token cache, as text: job records, results, audit entries."""
    out = []
    async for key in redis.scan_iter():
        if key.startswith(b"autofix:gh:token:"):
            continue
        kind = await redis.type(key)
        if kind == b"string":
            out.append(repr(await redis.get(key)))
        elif kind == b"stream":
            out.append(repr(await redis.xrange(key)))
        elif kind == b"zset":
            out.append(repr(await redis.zrange(key, 0, -1)))
    return "\n".join(out)
