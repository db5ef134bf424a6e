"""Checklist E, queue, worker and Redis: the cases tests/test_worker.py (pickle, unknown function),
tests/test_webhook_outage.py (Redis down, full, paused) and tests/test_fix_check_crash.py (SIGKILL in
every phase) leave open.

A real arq worker on a real Redis; the fix pipeline on the local GitHub with the real LocalSandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool
from redis.asyncio import Redis

from app.deadletters import dead_letters
from app.github.errors import RateLimited
from app.job_records import JobRecord, JobStore
from app.queue import RESULT_PREFIX, deserialize, serialize
from app.settings import Settings
from jobs import names
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.worker import MAX_TRIES, build_worker, redis_settings
from tests.patch_support import Served
from tests.pipeline_support import FILES, check_request, real_pytest_log
from tests.support import OWNER, LocalGitHub, wait_until
from tests.test_reaper_e2e import queue_a_status_command
from tests.test_sandbox_local import running


async def poison(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job that always raises, whatever its input."""
    raise RuntimeError(f"poison {request['n']}")


async def limited(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job GitHub always rate-limits (retry at once: the 1 s minimum deferral applies)."""
    raise RateLimited("secondary rate limit", time.time())


async def good(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    return {"done": request["n"], "try": ctx["job_try"]}


async def _result(redis: Redis, job_id: str) -> dict[str, Any]:
    raw = await redis.get(RESULT_PREFIX + job_id)
    assert raw is not None, f"no result for {job_id}"
    result: dict[str, Any] = deserialize(raw)
    return result


@pytest.mark.timeout(120)  # four deferred retries
async def test_E7_a_poison_job_stops_is_recorded_and_other_jobs_run(
    settings: Settings, redis: Redis, redis_url: str
) -> None:
    """E7: poison job (always raises) -> stops after max_tries (5) or its own cap; a visible
    dead-letter record; other jobs unaffected."""
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job("poison", {"n": 1}, _job_id="poison")
    await pool.enqueue_job("limited", {"n": 2}, _job_id="limited")
    for n in range(3):
        await pool.enqueue_job("good", {"n": n}, _job_id=f"good-{n}")
    await pool.aclose()
    functions = {"poison": poison, "limited": limited, "good": good}
    worker = build_worker(settings, redis_url, burst=True, handle_signals=False, functions=functions)
    try:
        await asyncio.wait_for(worker.async_run(), 60)
    finally:
        await worker.close()

    plain = await _result(redis, "poison")
    assert (plain["s"], plain["t"]) == (False, 1), "a plain exception is not retried"
    assert "poison 1" in repr(plain["r"])
    endless = await _result(redis, "limited")
    assert endless["s"] is False
    assert endless["t"] == MAX_TRIES, "an endless retry stops at the worker's max_tries"
    for n in range(3):
        assert (await _result(redis, f"good-{n}"))["r"] == {"done": n, "try": 1}
    letters = {d["job_id"]: d for d in await dead_letters(redis)}
    assert set(letters) == {"poison", "limited"}, "each dead job leaves a visible record"
    assert (letters["poison"]["tries"], letters["limited"]["tries"]) == (1, MAX_TRIES)
    assert "poison 1" in letters["poison"]["error"]
    assert (worker.jobs_complete, worker.jobs_failed) == (3, 2)


HANG = "autofix-e3-probe"
HANGING_TEST = f"""import subprocess


def test_mean():
    subprocess.run(["sh", "-c", "sleep 300 # {HANG}"])
"""


def _hanging_check(gh: LocalGitHub, tmp_path: Path) -> dict[str, Any]:
    """A failed check on a repository whose test command hangs in the sandbox; its job request."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES | {"tests/test_stats.py": HANGING_TEST})
    sha = subprocess.run(
        ["git", "--git-dir", str(repo.path), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, FILES))
    return check_request(gh, repo, check.id, sha)


async def _cancel_mid_sandbox(gh: LocalGitHub, deps: Deps, tmp_path: Path, job_id: str) -> None:
    """Run fix_check_run until its sandbox hangs in the test command, then cancel it the way arq's
    job_timeout does (the job's task gets CancelledError)."""
    request = _hanging_check(gh, tmp_path)
    task = asyncio.create_task(fix_check_run({"deps": deps, "job_id": job_id}, request))
    await asyncio.to_thread(wait_until, lambda: running(HANG) or task.done(), 90, "the sandbox to hang")
    assert not task.done(), task.result()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.timeout(150)  # the fix pipeline up to its sandbox
async def test_E3_a_timed_out_job_leaves_no_process_or_directory(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    """E3: arq job_timeout exceeded -> the CancelledError (BaseException) path kills the sandbox
    process group and deletes the temporary directories."""
    await _cancel_mid_sandbox(gh, deps, tmp_path, "check:e3")
    await asyncio.to_thread(wait_until, lambda: not running(HANG), 10, "the sandbox's processes to die")
    left = [p for p in deps.scratch.rglob("*")] if deps.scratch.exists() else []
    assert left == [], "the job's workspace outlived it"


@pytest.mark.timeout(150)
async def test_E3_a_timed_out_job_is_recorded_as_failed(
    gh: LocalGitHub, deps: Deps, model: Served[Any], redis: Redis, tmp_path: Path
) -> None:
    """E3: arq job_timeout exceeded -> the CancelledError path still marks the job failed."""
    await _cancel_mid_sandbox(gh, deps, tmp_path, "check:e3")
    record = await JobStore(redis).get("check:e3")
    assert record is not None
    assert record.status == "failed"
    assert all(p.status != "running" for p in record.phases)


STARTED: list[int] = []


async def slow_first_try(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job whose first try is still running when the deploy comes; later tries finish at once."""
    STARTED.append(ctx["job_try"])
    if ctx["job_try"] == 1:
        await asyncio.sleep(60)
    return {"try": ctx["job_try"]}


async def test_E2_sigterm_during_a_job_requeues_it(settings: Settings, redis: Redis, redis_url: str) -> None:
    """E2: SIGTERM (a deploy) during a job -> the job is cancelled and re-queued, and the next worker
    runs it to the end; nothing is left "in progress"."""
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job("slow_first_try", {}, _job_id="deploy")
    await pool.aclose()
    functions = {"slow_first_try": slow_first_try}
    first = build_worker(settings, redis_url, handle_signals=False, functions=functions)
    running_task = asyncio.create_task(first.async_run())
    STARTED.clear()
    for _ in range(400):
        if STARTED:  # the job itself is running, not just claimed
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the job never started")

    first.handle_sig(signal.SIGTERM)
    with contextlib.suppress(asyncio.CancelledError):  # arq cancels its main task on the signal
        await asyncio.wait_for(running_task, 10)
    await asyncio.gather(*first.tasks.values(), return_exceptions=True)  # the cancelled job's task
    first.tasks.clear()
    await first.close()

    second = build_worker(settings, redis_url, burst=True, handle_signals=False, functions=functions)
    try:
        await asyncio.wait_for(second.async_run(), 20)
    finally:
        await second.close()
    result = await _result(redis, "deploy")
    assert (result["s"], result["r"]) == (True, {"try": 2})
    assert not await redis.exists("arq:in-progress:deploy")


async def test_E1_a_command_stopped_between_its_reply_and_the_checkpoint_answers_once(
    gh: LocalGitHub, app_settings: Settings, redis: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E1 for commands: the worker stops (SIGTERM, cancelling the job) after GitHub answered 201 to the
    reply and before the reply's checkpoint is written. arq runs the job again as its second try, which
    finds the posted reply by its marker and adopts it: one answer."""
    settings, job = await queue_a_status_command(gh, app_settings, redis_url, "maya")

    first = build_worker(settings, redis_url, handle_signals=False, queue_name=names.COMMAND_QUEUE)
    real_save, stopping = JobStore.save, asyncio.Event()

    async def save(self: JobStore, record: JobRecord) -> None:
        if "reply" in record.checkpoints and not stopping.is_set():  # posted; the checkpoint is next
            stopping.set()
            first.handle_sig(signal.SIGTERM)
            await asyncio.sleep(60)  # cancelled here: the checkpoint never lands
        await real_save(self, record)

    monkeypatch.setattr(JobStore, "save", save)
    running_task = asyncio.create_task(first.async_run())
    await asyncio.wait_for(stopping.wait(), 20)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(running_task, 10)
    await asyncio.gather(*first.tasks.values(), return_exceptions=True)
    first.tasks.clear()
    await first.close()
    bot = [c for c in gh.state.comments.values() if c.user.type == "Bot"]
    assert len(bot) == 1  # the reply went out with the first try

    second = build_worker(
        settings, redis_url, burst=True, handle_signals=False, queue_name=names.COMMAND_QUEUE
    )
    try:
        await asyncio.wait_for(second.async_run(), 20)
    finally:
        await second.close()

    result = await _result(redis, job.job_id)
    assert (result["s"], result["t"]) == (True, 2)
    assert [c.id for c in gh.state.comments.values() if c.user.type == "Bot"] == [bot[0].id]  # adopted
    record = await JobStore(redis).get(job.job_id)
    assert record is not None
    assert record.checkpoints["reply"] == bot[0].id
