"""Jobs written by the endpoint run in a real arq worker; anything else in the queue does not execute."""

from __future__ import annotations

import pickle
from pathlib import Path

import httpx
from redis.asyncio import Redis

from app.audit import read_audit
from app.queue import JOB_PREFIX, QUEUE, RESULT_PREFIX, deserialize
from app.settings import Settings
from jobs import names
from jobs.received import FUNCTIONS
from jobs.worker import build_workers, model_missing, run_workers
from tests.support import all_fixture_names, app_fixture, app_fixture_bytes, deliver, event_of, make_settings


async def _run_burst(settings: Settings, redis_url: str) -> tuple[int, int]:
    """The fix and the command worker, each emptying its own queue."""
    workers = build_workers(settings, redis_url, burst=True, handle_signals=False)
    await run_workers(workers, burst=True)
    return sum(w.jobs_complete for w in workers), sum(w.jobs_failed for w in workers)


def test_every_routed_function_is_registered() -> None:
    assert set(FUNCTIONS) == set(names.ALL)


async def test_delivered_jobs_run_and_record_what_they_received(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, redis_url: str
) -> None:
    job_ids = []
    for name in all_fixture_names():
        r = await deliver(client, event_of(name), app_fixture_bytes(name))
        job_ids += r.json().get("jobs", [])
    payload = app_fixture("issue_comment.created.1.json")
    payload["comment"]["body"] = "/autofix retry"
    job_ids += (await deliver(client, "issue_comment", payload)).json()["jobs"]

    complete, failed = await _run_burst(settings, redis_url)

    assert (complete, failed) == (len(job_ids), 0)
    assert await redis.zcard(QUEUE) == 0
    entries = await read_audit(redis)
    assert sorted(e["job_id"] for e in entries) == sorted(job_ids)
    command = next(e for e in entries if e["function"] == names.RUN_COMMAND)
    assert command["request"]["command"]["verb"] == "retry"
    result = deserialize(await redis.get(RESULT_PREFIX + command["job_id"]))
    assert result["s"] is True
    assert result["r"] == {"received": command["request"]}


async def test_a_pickled_job_is_never_executed(
    redis: Redis, settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.touch, ())  # type: ignore[return-value]

    job = {"t": 1, "f": names.FIX_CHECK_RUN, "a": [Exploit()], "k": {}, "et": 0}
    await redis.set(JOB_PREFIX + "evil", pickle.dumps(job))
    await redis.zadd(QUEUE, {"evil": 1})  # arq skips score 0

    complete, failed = await _run_burst(settings, redis_url)

    assert not marker.exists(), "a pickled job body was unpickled by the worker"
    assert failed == 1
    assert complete == 0
    assert await redis.zcard(QUEUE) == 0


async def test_unknown_function_fails_that_job_only(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, redis_url: str
) -> None:
    await redis.set(JOB_PREFIX + "odd", b'{"t":1,"f":"rm_rf","a":[],"k":{},"et":0}')
    await redis.zadd(QUEUE, {"odd": 1})
    await deliver(client, "check_run", app_fixture_bytes("check_run.completed.1.json"))

    complete, failed = await _run_burst(settings, redis_url)

    assert (complete, failed) == (1, 1)


def test_a_model_is_configured_by_either_provider() -> None:
    assert model_missing(make_settings()) == ["ANTHROPIC_API_KEY"]
    assert model_missing(make_settings(anthropic_api_key="sk-ant-x")) == []
    local = make_settings(
        autofix_providers="anthropic,openai-compat",
        openai_compat_base_url="http://127.0.0.1:11434/v1",
        openai_compat_model="qwen2.5-coder:7b",
    )
    assert model_missing(local) == []
