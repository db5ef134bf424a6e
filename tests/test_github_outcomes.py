"""GitHub errors inside a real arq worker: retried at the time GitHub named, or stopped with a reason."""

from __future__ import annotations

from typing import Any

import httpx
import respx
from redis.asyncio import Redis

from app.audit import read_audit
from app.job_records import JobStore
from app.settings import Settings
from tests.github_support import INSTALLATION, mint, run_one_job, stored_text

# GitHub's newer stateless installation tokens are long and contain dots
LONG_TOKEN = "ghs_4242_" + "eyJhbGciOiJFUzI1NiJ9." * 3 + "s1gn4tur3-_x" * 20
ISSUE = {"number": 1, "title": "Broken", "state": "open"}


async def read_issue(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job that reads an issue through the worker's GitHub client, as the pipeline will, with its
    record started as the pipeline's are."""
    await JobStore(ctx["redis"]).start(ctx["job_id"], "read_issue", "o/r", request)
    inst = ctx["github"].installation(request["installation_id"], attempt=ctx["job_try"])
    response = await inst.read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    return {"title": response.json()["title"], "try": ctx["job_try"]}


async def test_a_secondary_rate_limit_is_retried_when_github_said_and_finishes(
    app_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    mint(api, key, ["ghs_a"])
    limited = httpx.Response(403, headers={"retry-after": "2"}, json={"message": "secondary rate limit"})
    route = api.get("/repos/o/r/issues/1").mock(side_effect=[limited, httpx.Response(200, json=ISSUE)])

    worker, result, elapsed = await run_one_job(
        app_settings, redis, redis_url, read_issue, {"installation_id": INSTALLATION}
    )

    assert result["s"] is True
    assert result["r"] == {"title": "Broken", "try": 2}
    assert worker.jobs_retried == 1
    assert route.call_count == 2
    assert elapsed >= 2, "the retry waited for retry-after instead of hammering GitHub"


async def test_a_permission_403_is_not_retried_and_says_why(
    app_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    mint(api, key, ["ghs_a"])
    route = api.get("/repos/o/r/issues/1").respond(
        403, json={"message": "Resource not accessible by integration"}
    )

    worker, result, _ = await run_one_job(
        app_settings, redis, redis_url, read_issue, {"installation_id": INSTALLATION}
    )

    assert route.call_count == 1
    assert worker.jobs_retried == 0
    assert result["s"] is True
    assert "Resource not accessible by integration" in result["r"]["gave_up"]
    [entry] = [e for e in await read_audit(redis) if e["kind"] == "job.give_up"]
    assert entry["job_id"] == "probe"
    record = await JobStore(redis).get("probe")
    assert record is not None
    assert (record.status, record.outcome) == ("done", "gave_up")
    assert "Resource not accessible by integration" in record.reason
    assert LONG_TOKEN not in await stored_text(redis)


async def test_a_missing_repository_fails_once(
    app_settings: Settings,
    redis: Redis,
    redis_url: str,
    key: Any,
    api: respx.MockRouter,
) -> None:
    mint(api, key, [LONG_TOKEN])
    route = api.get("/repos/o/r/issues/1").respond(404, json={"message": "Not Found"})

    worker, result, _ = await run_one_job(
        app_settings, redis, redis_url, read_issue, {"installation_id": INSTALLATION}
    )

    assert route.call_count == 1
    assert (worker.jobs_failed, worker.jobs_retried) == (1, 0)
    assert result["s"] is False
    assert "Not Found" in result["r"]
    assert [e["kind"] for e in await read_audit(redis) if e["kind"].startswith("job.")] == ["job.fail"]
    record = await JobStore(redis).get("probe")
    assert record is not None
    assert (record.status, record.outcome) == ("failed", "github_error")
    assert record.reason == "the repository or object is gone or not visible to the App: Not Found"
    stored = await stored_text(redis)
    assert "Not Found" in stored, "the scan sees the job's result"
    assert LONG_TOKEN not in stored
    assert "ghs_4242" not in stored
