"""Shared doubles for unit tests of the GitHub edge: the test App's key and settings, a fake clock,
a respx router standing in for api.github.com, and a token-minting route that checks the App JWT.

The fixtures are registered for every test module through tests/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from app.github.client import GitHubApp, Installation
from app.settings import Settings
from tests.support import APP_ID, make_settings

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


@pytest.fixture
def app_settings(key: rsa.RSAPrivateKey, redis_url: str) -> Settings:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return make_settings(github_private_key=pem, redis_url=redis_url)


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
