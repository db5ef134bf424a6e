"""Checklist E1: a worker SIGKILLed in the middle of a job. The job is freed by the reaper as soon as the
worker's heartbeat is stale, runs again on another worker as its next try, and answers exactly once.
Real `autofix worker` process, real Redis, the local GitHub."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import redis as sync_redis
from arq import create_pool
from pydantic import SecretStr
from redis.asyncio import Redis

from app.queue import deserialize, serialize
from app.routing import JobRequest, route
from app.settings import Settings
from jobs import names, reaper
from jobs.worker import build_worker, redis_settings
from tests.fakes.github import faults
from tests.support import APP_ID, OWNER, SECRET, AutofixProcess, LocalGitHub, cli_env, wait_until

MAINTAINER = "octo-maint"


async def queue_a_status_command(
    gh: LocalGitHub, app_settings: Settings, redis_url: str, user: str
) -> tuple[Settings, JobRequest]:
    """`/autofix status` by `user` (a maintainer) on a new issue, routed as its webhook would be and
    queued for the command worker: the worker's settings and the job."""
    repo = gh.sim.create_repo(OWNER, "svc", files={"README.md": "svc\n"})
    gh.sim.set_permission(repo, user, "maintain")
    issue = gh.sim.open_issue(repo, "flaky", "it fails sometimes", user=user)
    delivered: list[tuple[str, dict[str, Any]]] = []
    gh.state.deliver = lambda event, payload: delivered.append((event, payload))
    gh.sim.comment(repo, issue.number, "/autofix status", user=user)
    gh.state.deliver = None
    model_key = SecretStr("sk-ant-test")  # commands never call the model, but a worker needs one to act
    settings = app_settings.model_copy(update={"github_api_url": gh.url, "anthropic_api_key": model_key})
    [job] = route(*delivered[0], settings).jobs
    pool = await create_pool(
        redis_settings(redis_url), job_serializer=serialize, job_deserializer=deserialize
    )
    await pool.enqueue_job(job.function, job.args, _job_id=job.job_id, _queue_name=names.COMMAND_QUEUE)
    await pool.aclose()
    return settings, job


async def test_E1_a_killed_workers_job_runs_again_once(
    gh: LocalGitHub, app_settings: Settings, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    settings, job = await queue_a_status_command(gh, app_settings, redis_url, MAINTAINER)
    # the first try hangs on GitHub long enough to be killed in the middle
    gh.state.faults.add("GET", r"/collaborators/[^/]+/permission$", faults.latency(10), times=1)

    home = tmp_path / "home"
    home.mkdir()
    key = tmp_path / "app.pem"
    key.write_text(gh.private_key)
    env = cli_env(
        home, REDIS_URL=redis_url, GITHUB_API_URL=gh.url, GITHUB_APP_ID=APP_ID, GITHUB_PRIVATE_KEY_PATH=key,
        GITHUB_WEBHOOK_SECRET=SECRET, ANTHROPIC_API_KEY="sk-ant-test", AUTOFIX_LOG_FORMAT="json",
        AUTOFIX_REDIS_VOLATILE="true",
    )  # fmt: skip
    with AutofixProcess("worker", env=env, cwd=tmp_path) as worker:
        with sync_redis.Redis.from_url(redis_url) as r:
            wait_until(lambda: r.hget(reaper.RUNNING, job.job_id), 30, "the worker to start the job")
        os.kill(worker.pid, signal.SIGKILL)
        worker.process.wait()  # type: ignore[union-attr]

    assert await redis.exists(f"arq:in-progress:{job.job_id}") == 1  # arq alone would wait its timeout
    freed = await reaper.reap(redis, now=time.time() + reaper.GRACE_S + 1)  # the heartbeat went stale
    assert freed == [job.job_id]

    again = build_worker(
        settings, redis_url, burst=True, handle_signals=False, queue_name=names.COMMAND_QUEUE
    )
    try:
        await again.async_run()
    finally:
        await again.close()

    result = deserialize(await redis.get(f"arq:result:{job.job_id}"))
    assert result["s"] is True, result
    assert result["t"] == 2  # the second try
    bot_comments = [c for c in gh.state.comments.values() if c.user.type == "Bot"]
    assert len(bot_comments) == 1  # answered exactly once
