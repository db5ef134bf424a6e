"""Job logs: records with a job_id -> a capped Redis stream per job -> `autofix logs --job ID`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app import joblog
from app.job_records import JobStore
from app.queue import JOB_PREFIX
from tests.support import AUTOFIX, cli_env, run_autofix

TOKEN = "ghs_" + "a1B2c3D4e5" * 4


@pytest.fixture
def log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("autofix.test_joblog")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(level)


async def stream(redis: Redis, job_id: str) -> list[dict[str, str]]:
    return [fields for _, fields in await joblog.fetch_lines(redis, job_id)]


async def test_lines_with_a_job_id_reach_that_jobs_stream_redacted(redis: Redis, log: logging.Logger) -> None:
    handle = joblog.install(redis)
    try:
        log.info(
            "reproducing %s", "tests/test_a.py", extra={"job_id": "j1", "repo": "octo/demo", "job_try": 2}
        )
        log.info("not about a job")
        log.warning("cloning with %s", TOKEN, extra={"job_id": "j2"})
        try:
            raise RuntimeError(f"boom {TOKEN}")
        except RuntimeError:
            log.exception("publish failed", extra={"job_id": "j1"})
        await asyncio.sleep(joblog.FLUSH_S * 3)  # the flusher writes on its own
        assert len(await stream(redis, "j1")) == 2
    finally:
        await joblog.uninstall(handle)

    first, second = await stream(redis, "j1")
    assert (first["level"], first["msg"], first["logger"]) == (
        "INFO",
        "reproducing tests/test_a.py",
        log.name,
    )
    assert joblog.render_line(first).endswith("reproducing tests/test_a.py  repo=octo/demo job_try=2")
    assert second["msg"] == "publish failed"
    assert "RuntimeError: boom" in second["exc"]
    (other,) = await stream(redis, "j2")
    everything = str(await stream(redis, "j1")) + str(other)
    assert TOKEN not in everything
    assert "cloning with" in other["msg"]
    assert 13 * 86_400 < await redis.ttl(joblog.STREAM.format(job_id="j1")) <= joblog.TTL_S
    assert await redis.keys("autofix:joblog:*") != [b"autofix:joblog:None"]
    assert handle.handler not in logging.getLogger().handlers


async def test_a_full_queue_drops_and_counts_instead_of_waiting(redis: Redis, log: logging.Logger) -> None:
    handle = joblog.install(redis, queue_max=3)
    for i in range(5):  # no await in between: the flusher cannot run
        log.info("line %d", i, extra={"job_id": "j1"})
    assert handle.dropped == 2
    await joblog.uninstall(handle)
    assert [f["msg"] for f in await stream(redis, "j1")] == ["line 0", "line 1", "line 2"]


async def test_the_stream_is_capped(
    redis: Redis, log: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joblog, "MAXLEN", 10)
    handle = joblog.install(redis)
    for i in range(300):
        log.info("line %d", i, extra={"job_id": "j1"})
    await joblog.uninstall(handle)
    lines = await stream(redis, "j1")
    assert lines[-1]["msg"] == "line 299"
    assert len(lines) < 300  # approximate trimming (MAXLEN ~) keeps whole radix-tree nodes


async def test_redis_down_loses_lines_but_never_raises(log: logging.Logger) -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    handle = joblog.install(broken)
    log.info("lost", extra={"job_id": "j1"})
    await joblog.uninstall(handle)
    assert (handle.errors, handle.dropped, handle.written) == (1, 1, 0)
    await broken.aclose()


def test_a_line_reads_like_the_text_log() -> None:
    fields = {"ts": "0", "level": "INFO", "msg": "gate: ok", "ctx": '{"job_id": "j1", "repo": "o/r"}'}
    line = joblog.render_line(fields)
    assert line.endswith("INFO    gate: ok  repo=o/r")


async def seed(redis: Redis, log: logging.Logger, job_id: str, *msgs: str) -> None:
    handle = joblog.install(redis)
    for msg in msgs:
        log.info(msg, extra={"job_id": job_id})
    await joblog.uninstall(handle)


async def test_logs_prints_a_jobs_lines(
    redis: Redis, redis_url: str, log: logging.Logger, tmp_path: Path
) -> None:
    await JobStore(redis).start("check:1:abc:tests", "fix_check_run", "octo/demo", {})
    await seed(redis, log, "check:1:abc:tests", "evidence: 2 failing tests", "gate: ok")
    env = cli_env(tmp_path, REDIS_URL=redis_url)

    done = run_autofix("logs", "--job", "check:1:abc:tests", env=env, cwd=tmp_path)
    missing = run_autofix("logs", "--job", "nope", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert [line.split(" ", 1)[1].strip() for line in out] == [
        "INFO    evidence: 2 failing tests",
        "INFO    gate: ok",
    ]
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "autofix: no job 'nope' and no log for it (job logs are kept 14 days)"
    ]


async def test_follow_prints_new_lines_and_stops_when_the_job_ends(
    redis: Redis, redis_url: str, log: logging.Logger, tmp_path: Path
) -> None:
    store = JobStore(redis)
    record = await store.start("j1", "fix_check_run", "octo/demo", {})
    await seed(redis, log, "j1", "before")
    follower = await asyncio.create_subprocess_exec(
        str(AUTOFIX), "logs", "--job", "j1", "--follow",
        env=cli_env(tmp_path, REDIS_URL=redis_url), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.sleep(1.5)
        assert follower.returncode is None
        handle = joblog.install(redis)
        log.info("while running", extra={"job_id": "j1"})
        await asyncio.sleep(0.5)
        log.info("last words", extra={"job_id": "j1"})  # still queued in the worker when the job ends
        await store.finish(record, "pr_opened", "Opened #1.")
        await joblog.uninstall(handle)
        out, err = await asyncio.wait_for(
            follower.communicate(), 30
        )  # it stops on its own once the job ended
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
    assert follower.returncode == 0, err.decode()
    assert [line.split("INFO", 1)[1].strip() for line in out.decode().splitlines()] == [
        "before",
        "while running",
        "last words",
    ]


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_lines_inside_a_job_function_carry_its_ids_without_extra(
    redis: Redis, log: logging.Logger
) -> None:
    stderr = Kept()  # stands for the stderr handler configure_logging installs
    logging.getLogger().addHandler(stderr)
    handle = joblog.install(redis)

    async def job(ctx: dict[str, object], request: dict[str, object]) -> str:
        log.info("step %s", request["n"])
        await asyncio.sleep(0.01)  # the other job runs meanwhile
        log.info("done")
        return "ok"

    try:
        wrapped = joblog.in_job_context("fix_check_run", job)
        results = await asyncio.gather(
            wrapped({"job_id": "j1", "job_try": 2}, {"repo": "octo/one", "n": 1}),
            wrapped({"job_id": "j2", "job_try": 1}, {"repo": "octo/two", "n": 2}),
        )
        log.info("between jobs")
    finally:
        await joblog.uninstall(handle)
        logging.getLogger().removeHandler(stderr)

    assert list(results) == ["ok", "ok"]
    for job_id, repo, n, tries in [("j1", "octo/one", 1, 2), ("j2", "octo/two", 2, 1)]:
        lines = [joblog.render_line(f) for f in await stream(redis, job_id)]
        assert [line.split("INFO", 1)[1].strip() for line in lines] == [
            f"step {n}  repo={repo} job_try={tries} function=fix_check_run",
            f"done  repo={repo} job_try={tries} function=fix_check_run",
        ]
    on_stderr = {(r.getMessage(), r.__dict__.get("job_id")) for r in stderr.records if r.name == log.name}
    assert on_stderr == {
        ("step 1", "j1"),
        ("step 2", "j2"),
        ("done", "j1"),
        ("done", "j2"),
        ("between jobs", None),
    }
    assert handle.context_filter not in stderr.filters


async def test_follow_waits_for_a_queued_job_and_refuses_an_unknown_one(
    redis: Redis, redis_url: str, log: logging.Logger, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, REDIS_URL=redis_url)
    unknown = run_autofix("logs", "--job", "nope", "--follow", env=env, cwd=tmp_path)
    assert (unknown.returncode, unknown.stderr.count("\n")) == (1, 1)
    assert "no job 'nope'" in unknown.stderr

    await redis.set(JOB_PREFIX + "q1", b"queued")  # enqueued, not started: no record yet
    follower = await asyncio.create_subprocess_exec(
        str(AUTOFIX), "logs", "--job", "q1", "--follow", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.sleep(2)
        assert follower.returncode is None  # still waiting for the job to start
        store = JobStore(redis)
        record = await store.start("q1", "fix_check_run", "octo/demo", {})
        await seed(redis, log, "q1", "started")
        await store.finish(record, "skipped", "Budget reached.")
        out, err = await asyncio.wait_for(follower.communicate(), 15)
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
    assert follower.returncode == 0, err.decode()
    assert out.decode().split("INFO", 1)[1].strip() == "started"
