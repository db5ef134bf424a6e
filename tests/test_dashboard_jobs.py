"""The jobs list and its filters, a job's page (timeline, report, localization, candidates with their
sandbox runs and verdicts, model calls, audit entries, GitHub links), and its live updates over
server-sent events from the job records' pubsub, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from app.artefacts import JobArtefacts
from app.audit import append_audit
from app.dashboard import Dashboard, dashboard_routes
from app.job_records import EVENTS, JobStore
from app.settings import Settings
from app.web import build_app
from tests.support import LiveServer
from tests.test_dashboard_support import TOKEN, csrf_of, dash_settings, dashboard_client, seed_record, sign_in

DIFF = (
    "--- a/calc/stats.py\n+++ b/calc/stats.py\n@@ -1 +1 @@\n"
    "-    return sum(xs) / (len(xs) - 1)\n+    return sum(xs) / len(xs)\n"
)


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-job-id="([^"]+)"', html)


async def test_the_jobs_list_filters_by_repo_kind_and_outcome(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    await seed_record(redis, "a1", repo="octo/app", outcome="pr_opened")
    await seed_record(redis, "a2", repo="octo/app", kind="fix_issue", outcome="unproven")
    await seed_record(redis, "b1", repo="octo/lib", repo_id=78, outcome="pr_opened")
    await seed_record(redis, "b2", repo="octo/lib", repo_id=78, running=True)
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await sign_in(client)
        every = await client.get("/dashboard/jobs")
        by_repo = await client.get("/dashboard/jobs", params={"repo": "OCTO/app"})
        by_kind = await client.get("/dashboard/jobs", params={"kind": "fix_issue"})
        by_outcome = await client.get("/dashboard/jobs", params={"outcome": "pr_opened"})
        running = await client.get("/dashboard/jobs", params={"outcome": "running"})
        api = (await client.get("/api/jobs", params={"repo": "octo/lib"})).json()
    assert 'data-testid="jobs-table"' in every.text
    assert rows(every.text) == ["b2", "b1", "a2", "a1"]  # newest update first
    assert rows(by_repo.text) == ["a2", "a1"]
    assert rows(by_kind.text) == ["a2"]
    assert rows(by_outcome.text) == ["b1", "a1"]
    assert rows(running.text) == ["b2"]
    assert [j["job_id"] for j in api["jobs"]] == ["b2", "b1"]
    assert api["filters"] == {"repo": "octo/lib", "kind": "", "outcome": ""}


async def seed_full_job(redis: Redis) -> None:
    request = {"check_run_id": 991, "head_sha": "abc123", "number": 12}
    await seed_record(redis, "check:9", outcome="pr_opened", gate="ok", request=request)
    arts = JobArtefacts(redis)
    await arts.put(
        "check:9",
        report={
            "failure_class": "test_failure",
            "fingerprint": "fp-1",
            "failing_tests": ["tests/test_stats.py::test_mean"],
        },
        localization=[
            {
                "file": "calc/stats.py",
                "symbol": "mean",
                "start": 1,
                "end": 3,
                "score": 0.9,
                "why": "<traceback>",
            }
        ],
        candidates=[
            {"id": "c1", "strategy": "direct", "outcome": "proven", "diff": DIFF, "diagnosis": "Off by one."},
            {
                "id": "c2",
                "strategy": "tests-first",
                "outcome": "rejected",
                "rejected_because": "tests still fail",
            },
        ],
        sandbox=[
            {"candidate": "baseline", "backend": "local", "exit_code": 1, "passed": 3, "failed": 1},
            {
                "candidate": "c1",
                "backend": "local",
                "exit_code": 0,
                "passed": 4,
                "failed": 0,
                "duration_s": 2.5,
                "log_tail": "4 passed",
            },
        ],
        verdicts=[{"candidate": "c1", "proven": True, "reason": "failing test passes, nothing else broke"}],
        links={"pr": "https://github.com/octo/app/pull/13"},
    )
    for attempt, (tin, tout, dollars) in enumerate([(1000, 200, 0.01), (3000, 500, 0.035)], 1):
        await arts.add_model_call(
            "check:9",
            {
                "at": time.time(),
                "model": "claude-x",
                "attempt": attempt,
                "input_tokens": tin,
                "output_tokens": tout,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "dollars": dollars,
                "seconds": 1.0,
                "stop_reason": "tool_use",
            },
        )
    await append_audit(
        redis, "job.received", job_id="check:9", function="fix_check_run", request={"repo": "octo/app"}
    )
    await append_audit(redis, "pr.opened", job_id="check:9", repo="octo/app", number=13)
    await append_audit(redis, "pr.opened", job_id="check:other", repo="octo/app", number=14)
    await append_audit(redis, "pr.outcome", repo="octo/else", number=15)


async def test_a_job_page_shows_what_the_job_did_saw_and_spent(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    await seed_full_job(redis)
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await sign_in(client)
        page = (await client.get("/dashboard/jobs/check:9")).text
        api = (await client.get("/api/jobs/check:9")).json()
        missing = await client.get("/dashboard/jobs/nope")
        missing_api = await client.get("/api/jobs/nope")
    assert re.search(r'data-testid="job-status"[^>]*>done · pr_opened<', page)
    phases = re.findall(r'<li data-phase="(\w+)" data-status="(\w+)">', page)
    assert phases == [("evidence", "done"), ("gate", "done")]
    assert "fp-1" in page
    assert "&lt;traceback&gt;" in page  # escaped, never markup
    assert "<traceback>" not in page
    assert "+    return sum(xs) / len(xs)" in page
    assert "Rejected: tests still fail" in page
    assert "Verdict: proven — failing test passes, nothing else broke" in page
    assert "Baseline: local, exit 1, 3 passed, 1 failed." in page
    assert '<td data-testid="model-dollars">$0.04</td>' in page
    assert re.findall(r'data-testid="job-audit".*?</table>', page, re.S)[0].count("<tr data-audit-id") == 2
    for link in ("https://github.com/octo/app/runs/991", "https://github.com/octo/app/pull/13",
                 "https://github.com/octo/app/commit/abc123"):  # fmt: skip
        assert f'href="{link}"' in page
    assert api["model_totals"]["input_tokens"] == 4000
    assert api["model_totals"]["dollars"] == 0.045
    assert [c["id"] for c in api["candidates"]] == ["c1", "c2"]
    assert api["candidates"][0]["sandbox"][0]["passed"] == 4
    assert [e["kind"] for e in api["audit"]] == ["job.received", "pr.opened"]
    assert (missing.status_code, missing_api.status_code) == (404, 404)


@asynccontextmanager
async def served(settings: Settings, redis_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    with LiveServer(build_app(settings, redis_url)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield server.url, client


async def sign_in_live(client: httpx.AsyncClient) -> None:
    login = await client.get("/login")
    signed = await client.post("/login/token", data={"token": TOKEN, "csrf": csrf_of(login.text)})
    assert signed.status_code == 303


async def next_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    event, data = None, None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and event == "job" and data is not None:
            parsed: dict[str, Any] = json.loads(data)
            return parsed
    raise AssertionError("the stream ended")


async def subscribers(redis: Redis) -> int:
    (_, n), *_ = await redis.pubsub_numsub(EVENTS)
    return int(n)


async def test_a_job_page_updates_live_and_the_stream_ends_with_the_client(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    record = await seed_record(redis, "check:live", running=True)
    store = JobStore(redis)
    async with served(dash_settings(redis_url, tmp_path), redis_url) as (_, client):
        await sign_in_live(client)
        page = await client.get("/dashboard/jobs/check:live")
        assert 'data-events="/dashboard/jobs/check%3Alive/events"' in page.text
        assert '<script src="/static/dashboard.js" defer></script>' in page.text
        async with client.stream("GET", "/dashboard/jobs/check:live/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await asyncio.wait_for(next_event(lines), 5)
            assert (first["status_text"], [p["name"] for p in first["phases"]]) == ("running", ["evidence"])
            assert await subscribers(redis) == 1
            await seed_record(redis, "check:someone-else", running=True)  # another job: no event
            async with store.phase(record, "gate") as p:
                p.outcome = "ok"
            await store.finish(record, "pr_opened", "Opened #3.")
            events = [await asyncio.wait_for(next_event(lines), 5) for _ in range(3)]
        assert [e["job_id"] for e in events] == ["check:live"] * 3
        assert [(p["name"], p["status"]) for p in events[1]["phases"]] == [
            ("evidence", "done"),
            ("gate", "done"),
        ]
        assert events[-1]["status_text"] == "done · pr_opened"
        for _ in range(100):  # the server notices the client went, and unsubscribes
            if await subscribers(redis) == 0:
                break
            await asyncio.sleep(0.05)
        assert await subscribers(redis) == 0
        js = await client.get("/static/dashboard.js")
        assert js.status_code == 200
        assert 'addEventListener("job"' in js.text


async def test_live_views_are_capped(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    settings = dash_settings(redis_url, tmp_path)
    dash = Dashboard(settings, max_streams=1, keepalive_s=0.2)
    app = build_app(settings, redis_url)
    app.router.routes[:] = dashboard_routes(settings, dash)  # the same app, with a cap of one stream
    await seed_record(redis, "check:cap", running=True)
    async with served_app(app) as client:
        await sign_in_live(client)
        async with client.stream("GET", "/dashboard/jobs/check:cap/events") as first:
            lines = first.aiter_lines()
            await asyncio.wait_for(next_event(lines), 5)
            second = await client.get("/dashboard/jobs/check:cap/events")
            assert second.status_code == 503
            async for line in lines:  # a keep-alive comment while nothing changes
                if line.startswith(": keep-alive"):
                    break
        for _ in range(100):
            if dash.streams == 0:
                break
            await asyncio.sleep(0.05)
        assert dash.streams == 0


@asynccontextmanager
async def served_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    with LiveServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client
