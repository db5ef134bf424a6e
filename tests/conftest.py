"""Shared fixtures. Redis is real: REDIS_URL when it answers, else a redis-server this session starts
(the same embedded Redis that `autofix serve` uses). Each test starts from an empty database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import hypothesis
import pytest
import redis as sync_redis
from redis.asyncio import Redis

from app.embedded_redis import EmbeddedRedis
from app.settings import Settings
from app.web import build_app
from tests.support import SETTINGS_ENV, app_client, make_settings

# CI explores the same examples every run, so a landing never hangs on a new random draw;
# locally each run draws new ones (and replays any failure found before, from .hypothesis/).
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


def _answers(url: str) -> bool:
    try:
        client = sync_redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (sync_redis.RedisError, OSError):
        return False


def _for_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets its own database (gw0: the URL's, gw1: the next, …), since
    every test flushes the database it uses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0)
    if index == 0:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0) if parts.scheme != "unix" else 0
    if parts.scheme == "unix":
        query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("db="))
        return urlunsplit(parts._replace(query="&".join(filter(None, [query, f"db={index}"]))))
    return urlunsplit(parts._replace(path=f"/{base + index}"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url and _answers(url):
        yield _for_this_worker(url)
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what a test passes: a developer's own environment must not leak in."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return make_settings(redis_url=redis_url)


async def _client_for(settings: Settings, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(build_app(settings, redis_url)) as client:
        yield client


@pytest.fixture
async def client(redis: Redis, settings: Settings, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The web app in-process (lifespan run), on a flushed real Redis."""
    async for c in _client_for(settings, redis_url):
        yield c


# the GitHub edge's doubles (App key, settings, fake clock, respx GitHub), shared by its test modules
from tests.github_support import api, app_key, app_settings, clock, gh, github, inst, key  # noqa: E402, F401
from tests.pipeline_support import deps, model  # noqa: E402, F401
