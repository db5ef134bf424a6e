"""Commands have their own arq queue: a comment is answered while fix jobs fill theirs."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from app.audit import read_audit
from app.settings import Settings
from jobs import names
from jobs.worker import build_worker
from tests.support import app_fixture, app_fixture_bytes, deliver


async def test_a_command_is_run_by_the_command_worker_while_fix_jobs_wait(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, redis_url: str
) -> None:
    check = await deliver(client, "check_run", app_fixture_bytes("check_run.completed.1.json"))
    payload = app_fixture("issue_comment.created.1.json")
    payload["comment"]["body"] = "/autofix status"
    command = await deliver(client, "issue_comment", payload)
    [fix_id], [command_id] = check.json()["jobs"], command.json()["jobs"]

    assert [m.decode() for m in await redis.zrange(names.FIX_QUEUE, 0, -1)] == [fix_id]
    assert [m.decode() for m in await redis.zrange(names.COMMAND_QUEUE, 0, -1)] == [command_id]

    worker = build_worker(
        settings, redis_url, burst=True, handle_signals=False, queue_name=names.COMMAND_QUEUE
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert [e["job_id"] for e in await read_audit(redis)] == [command_id]
    assert [m.decode() for m in await redis.zrange(names.FIX_QUEUE, 0, -1)] == [fix_id]  # still waiting


def test_each_function_has_one_queue() -> None:
    assert {f: names.queue_for(f) for f in names.ALL if names.queue_for(f) != names.FIX_QUEUE} == {
        names.RUN_COMMAND: names.COMMAND_QUEUE
    }
