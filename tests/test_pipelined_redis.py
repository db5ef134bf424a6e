"""The hot path's Redis client against a real server, on asyncio's loop and on uvloop (what uvicorn runs)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, OutOfMemoryError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.embedded_redis import EmbeddedRedis
from app.pipelined_redis import PipelinedRedis, pack_command

Run = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Run a scenario on a fresh loop of each kind: uvicorn serves on uvloop, the other tests use asyncio."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def runner(scenario: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=factory) as r:
            r.run(scenario)

    return runner


def test_pack_command_is_resp() -> None:
    assert pack_command(("SET", b"k", 12)) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"


def test_replies_of_every_type_in_order(run: Run, redis_url: str) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(redis_url)
        try:
            await client.execute("DEL", "pr:list")
            replies = await asyncio.gather(
                client.execute("PING"),
                client.execute("SET", "pr:k", b"\x00\xffbinary"),
                client.execute("GET", "pr:k"),
                client.execute("GET", "pr:missing"),
                client.execute("RPUSH", "pr:list", "a", "b"),
                client.execute("LRANGE", "pr:list", 0, -1),
            )
            assert replies == [b"PONG", b"OK", b"\x00\xffbinary", None, 2, [b"a", b"b"]]
            with pytest.raises(ResponseError, match="unknown command"):
                await client.execute("NOT-A-COMMAND")
            assert await client.execute("PING") == b"PONG", "an error reply does not break the stream"
        finally:
            await client.execute("DEL", "pr:k", "pr:list")
            await client.aclose()

    run(scenario())


def test_many_concurrent_callers_get_their_own_replies(run: Run, redis_url: str) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(redis_url)
        try:
            values = await asyncio.gather(*(client.execute("ECHO", f"value-{i}") for i in range(500)))
            assert values == [f"value-{i}".encode() for i in range(500)]
        finally:
            await client.aclose()

    run(scenario())


def test_evalsha_loads_an_unknown_script(run: Run, redis_url: str) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(redis_url)
        script = "return ARGV[1] .. KEYS[1]"
        try:
            await client.execute("SCRIPT", "FLUSH")
            with pytest.raises(NoScriptError):
                await client.execute("EVALSHA", "0" * 40, 0)
            sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324
            assert await client.evalsha(sha, script, ["k"], ["v-"]) == b"v-k"
            assert await client.execute("SCRIPT", "EXISTS", sha) == [1]
        finally:
            await client.aclose()

    run(scenario())


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    yield server
    server.stop()


def test_server_gone_fails_every_waiter_then_reconnects(run: Run, own_redis: EmbeddedRedis) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(own_redis.url, timeout=2)
        try:
            assert await client.execute("PING") == b"PONG"
            own_redis.stop()
            with pytest.raises(RedisConnectionError):
                await client.execute("PING")
            own_redis.start()
            assert await client.execute("PING") == b"PONG"
        finally:
            await client.aclose()

    run(scenario())


def test_slow_reply_times_out_and_does_not_shift_later_replies(run: Run, own_redis: EmbeddedRedis) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(own_redis.url, timeout=0.3)
        try:
            await client.execute("CLIENT", "PAUSE", "1000", "ALL")  # answers, then stalls what follows
            slow = asyncio.ensure_future(client.execute("ECHO", "slow"))
            with pytest.raises(RedisTimeoutError):
                await slow
            await asyncio.sleep(1)  # the late reply arrives on the dropped connection, not on the next
            assert await client.execute("ECHO", "next") == b"next"
        finally:
            await client.aclose()

    run(scenario())


def test_out_of_memory_is_redis_pys_error(run: Run, own_redis: EmbeddedRedis) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(own_redis.url)
        try:
            await client.execute("CONFIG", "SET", "maxmemory", "1")
            with pytest.raises(OutOfMemoryError):
                await client.execute("SET", "k", "v")
        finally:
            await client.aclose()

    run(scenario())


def test_password_and_database_from_the_url(run: Run, tmp_path: Path) -> None:
    async def scenario() -> None:
        server = EmbeddedRedis(tmp_path / ("long-" * 25))  # too long for a socket: TCP with a password
        server.start()
        try:
            client = PipelinedRedis(server.url.rsplit("/", 1)[0] + "/3")
            assert await client.execute("SET", "in-db-3", "1") == b"OK"
            assert await client.execute("CLIENT", "INFO") is not None
            info = (await client.execute("CLIENT", "INFO")).decode()
            assert " db=3 " in info
            await client.aclose()
            wrong = PipelinedRedis(server.url.replace("redis://:", "redis://:wrong"))
            with pytest.raises(ResponseError):
                await wrong.execute("PING")
            await wrong.aclose()
        finally:
            server.stop()

    run(scenario())


def test_unreachable_server_is_a_connection_error(run: Run, tmp_path: Path) -> None:
    async def scenario() -> None:
        client = PipelinedRedis(f"unix://{tmp_path}/nobody.sock")
        with pytest.raises(RedisConnectionError, match="cannot connect"):
            await client.execute("PING")

    run(scenario())
