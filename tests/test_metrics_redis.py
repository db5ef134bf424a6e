"""/metrics shows the worker's counts from Redis: seeded through app/stats.py as the worker writes
them, scraped through the app in-process, and parsed by Prometheus's own parser. Label values stay
bounded; a Redis that does not answer leaves the web side's own series."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, cast

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from app import metrics, stats
from app.job_records import PHASES
from app.settings import Settings
from app.telemetry import OPENED_PR, PROVEN, REFUSALS
from app.web import build_app
from jobs import names
from jobs.sandbox.base import ERRORS
from tests.support import app_client

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def seed(redis: Redis, now: float) -> None:
    day = stats.day_of(now)
    counts = stats.Counts()
    for name, amount in [
        ("outcome:fix_check_run:pr_opened", 3), ("outcome:fix_check_run:skipped", 2),
        ("outcome:fix_check_run:made_up", 1), ("outcome:made_up_kind:pr_opened", 4),
        ("reason:fix_check_run:budget_jobs_per_day", 2), ("reason:fix_issue:new_code", 1),
        ("phase_seconds:validate", 12.5), ("phase_count:validate", 2), ("phase_seconds:warp", 1),
        ("phase_count:warp", 1), ("tokens:claude-sonnet-4-6", 1500), ("dollars:claude-sonnet-4-6", 0.75),
        ("sandbox:local:passed", 5), ("sandbox:actions:workflow_missing", 1), ("sandbox:local:exploded", 2),
        ("github_calls", 42), ("proven", 3), ("flaky", 1), ("prs:opened", 3), ("prs:merged", 1),
    ]:  # fmt: skip
        counts.add(day, name, amount)
    await stats.apply(redis, counts)
    await stats.add_time_to_pr(redis, 300, now=now)
    await stats.add_time_to_pr(redis, 900, now=now)
    await stats.set_github_rate(redis, 4321, 5000, 1_800_000_000, now=now)
    await stats.heartbeat(redis, "host:1:fix", {"queue": "fix"}, now=now)
    await stats.heartbeat(redis, "host:2:old", {"queue": "fix"}, now=now - 10 * stats.ALIVE_S)
    await cast("Awaitable[int]", redis.hset(metrics.PR_OUTCOMES_KEY, mapping={"merged": 1}))
    # arq's queues: sorted sets of job ids by enqueue time (ms); a running job has an in-progress key
    await redis.zadd(names.FIX_QUEUE, {"running": (now - 600) * 1000, "waiting": (now - 30) * 1000,
                                       "deferred": (now + 60) * 1000})  # fmt: skip
    await redis.set("arq:in-progress:running", b"1")
    await redis.zadd(names.COMMAND_QUEUE, {"cmd": (now - 5) * 1000})


async def test_the_worker_counts_reach_metrics_bounded_and_parseable(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    await seed(redis, time.time())
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == metrics.CONTENT_TYPE
    s = parse(r.text)
    assert at(s, "autofix_jobs_total", kind="fix_check_run", outcome="pr_opened") == 3
    assert at(s, "autofix_jobs_total", kind="fix_check_run", outcome="other") == 1  # made_up
    assert at(s, "autofix_jobs_total", kind="other", outcome="pr_opened") == 4
    assert at(s, "autofix_job_refusals_total", kind="fix_check_run", reason="budget_jobs_per_day") == 2
    assert at(s, "autofix_job_refusals_total", kind="fix_issue", reason="other") == 1
    assert at(s, "autofix_phase_seconds_sum", phase="validate") == 12.5
    assert at(s, "autofix_phase_seconds_count", phase="validate") == 2
    assert at(s, "autofix_phase_seconds_count", phase="other") == 1
    assert at(s, "autofix_time_to_pr_seconds_sum") == 1200
    assert at(s, "autofix_time_to_pr_seconds_count") == 2
    assert at(s, "autofix_model_tokens_total", model="claude-sonnet-4-6") == 1500
    assert at(s, "autofix_model_dollars_total", model="claude-sonnet-4-6") == 0.75
    assert at(s, "autofix_sandbox_runs_total", backend="local", outcome="passed") == 5
    assert at(s, "autofix_sandbox_runs_total", backend="actions", outcome="workflow_missing") == 1
    assert at(s, "autofix_sandbox_runs_total", backend="local", outcome="other") == 2
    assert at(s, "autofix_github_api_calls_total") == 42
    assert at(s, "autofix_github_rate_limit_remaining") == 4321
    assert at(s, "autofix_github_rate_limit_limit") == 5000
    assert at(s, "autofix_proven_fixes_total") == 3
    assert at(s, "autofix_flaky_tests_total") == 1
    assert at(s, "autofix_prs_total", event="merged") == 1
    assert at(s, "autofix_pr_outcomes", outcome="merged") == 1
    assert at(s, "autofix_queue_depth", queue="fix") == 3
    assert at(s, "autofix_queue_depth", queue="command") == 1
    assert 30 <= at(s, "autofix_queue_oldest_job_age_seconds", queue="fix") < 40  # not the running one
    assert 5 <= at(s, "autofix_queue_oldest_job_age_seconds", queue="command") < 15
    assert at(s, "autofix_workers_alive") == 1
    assert at(s, "autofix_webhook_enqueue_seconds_count") == 0  # the web side's own series are still there


async def test_an_empty_redis_shows_zeros_not_gaps(client: httpx.AsyncClient, redis: Redis) -> None:
    s = parse((await client.get("/metrics")).text)
    assert at(s, "autofix_queue_depth", queue="fix") == 0
    assert at(s, "autofix_queue_oldest_job_age_seconds", queue="fix") == 0
    assert at(s, "autofix_github_api_calls_total") == 0
    assert at(s, "autofix_workers_alive") == 0
    assert at(s, "autofix_time_to_pr_seconds_count") == 0
    assert not any(name == "autofix_github_rate_limit_remaining" for name, _ in s)  # no reading yet


async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


async def test_without_redis_the_scrape_still_answers_with_the_web_series(settings: Settings) -> None:
    app = build_app(settings, "redis://127.0.0.1:1/0")  # nothing listens there
    async for client in _client(app):
        r = await client.get("/metrics")
        assert r.status_code == 200
        names_seen = {name for name, _ in parse(r.text)}
        assert "autofix_webhook_enqueue_seconds_count" in names_seen
        assert not any(n.startswith(("autofix_jobs", "autofix_queue")) for n in names_seen)


def test_models_beyond_the_dearest_few_are_other() -> None:
    totals = {f"dollars:m{i:02d}": float(i) for i in range(metrics.MAX_MODELS + 5)}
    totals |= {f"tokens:m{i:02d}": 10.0 for i in range(metrics.MAX_MODELS + 5)}
    snap = metrics.Snapshot(now=0.0, totals=totals)
    (family,) = [f for f in metrics.build_families(snap) if f.name == "autofix_model_tokens"]
    by_model = {s.labels["model"]: s.value for s in family.samples}
    assert len(by_model) == metrics.MAX_MODELS + 1
    assert by_model["other"] == 50.0  # the five cheapest, 10 tokens each
    assert "m24" in by_model
    assert "m00" not in by_model


def test_the_known_labels_cover_what_the_worker_writes() -> None:
    assert metrics.PHASES == PHASES
    assert {e.code for e in ERRORS} <= metrics.SANDBOX_OUTCOMES
    assert OPENED_PR | PROVEN | REFUSALS <= metrics.OUTCOMES
    assert REFUSALS <= metrics.REASONS
    gate = (Path(__file__).parent.parent / "jobs" / "gate.py").read_text()
    gate_reasons = set(re.findall(r'_no\(\s*"(\w+)"', gate)) | set(re.findall(r'"(budget_\w+)"', gate))
    assert len(gate_reasons) > 15
    assert gate_reasons <= metrics.REASONS, "a gate reason would be counted as `other`"
    assert set(metrics.QUEUES) == {names.FIX_QUEUE, names.COMMAND_QUEUE}
