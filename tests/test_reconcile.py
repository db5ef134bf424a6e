"""Reconciliation against the local GitHub: lost deliveries redelivered once, lost jobs created once,
one run at a time. The web app is real (served on loopback) on a Redis the test stops and restarts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.embedded_redis import EmbeddedRedis
from app.github.client import GitHubApp
from app.github.deliveries import parse_delivery
from app.job_records import INDEX
from app.queue import JOB_PREFIX, QUEUE
from app.settings import Settings
from app.web import build_app
from jobs import reconcile as rec
from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.fakes.github.webhooks import Hookshot
from tests.support import APP_ID, OWNER, SECRET, LiveServer, LocalGitHub, make_settings


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server the test may stop for an outage (never the shared one)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(own_redis: EmbeddedRedis, gh: LocalGitHub, app_key: str) -> Settings:
    return make_settings(redis_url=own_redis.url, github_private_key=app_key, github_api_url=gh.url)


@pytest.fixture
def hookshot(gh: LocalGitHub, settings: Settings, own_redis: EmbeddedRedis) -> Iterator[Hookshot]:
    """GitHub's deliveries go to the real autofix web app."""
    with LiveServer(build_app(settings, own_redis.url)) as web:
        shot = Hookshot(gh.state, f"{web.url}/webhooks/github", SECRET, APP_ID)
        yield shot
        shot.close()


@pytest.fixture
async def ctx(settings: Settings, own_redis: EmbeddedRedis) -> AsyncIterator[dict[str, Any]]:
    """What the arq worker hands the cron job."""
    redis = Redis.from_url(own_redis.url)
    yield {"redis": redis, "settings": settings, "github": GitHubApp(settings, redis)}
    await redis.aclose()


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    return gh.sim.create_repo(OWNER, "demo", {"a.py": "x = 1\n"})


def head(repo: Repo) -> str:
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    return sha


async def queued(redis: Redis) -> list[str]:
    return sorted(m.decode() for m in await redis.zrange(QUEUE, 0, -1))


async def run_in_thread(shot: Hookshot) -> None:
    await asyncio.to_thread(shot.flush)  # the web app answers in this loop's server thread


# -- against the local GitHub -----------------------------------------------------------------------


async def test_deliveries_failed_in_an_outage_are_redelivered_exactly_once(
    gh: LocalGitHub,
    repo: Repo,
    own_redis: EmbeddedRedis,
    hookshot: Hookshot,
    ctx: dict[str, Any],
) -> None:
    own_redis.stop()
    gh.sim.fail_check(repo, head(repo), "tests", app_id=None)  # Actions: workflow_run, check_run, …
    gh.sim.open_issue(repo, "crash on start")
    gh.sim.label_issue(repo, 1, "autofix")
    await run_in_thread(hookshot)
    failed = {d.guid for d in gh.state.hook_deliveries if d.status_code >= 400 or d.status_code == 0}
    events_failed = {d.event for d in gh.state.hook_deliveries if d.guid in failed}
    assert events_failed >= {"check_run", "issues"}, "Redis was down: those deliveries got 503"
    own_redis.start()

    first = await rec.reconcile(ctx)
    await run_in_thread(hookshot)
    second = await rec.reconcile(ctx)
    await run_in_thread(hookshot)

    assert sorted(first["redelivered"]) == sorted(failed)
    assert second["redelivered"] == []
    assert second["enqueued"] == []
    redeliveries = Counter(d.guid for d in gh.state.hook_deliveries if d.redelivery)
    assert redeliveries == dict.fromkeys(failed, 1)
    assert all(200 <= d.status_code < 300 for d in gh.state.hook_deliveries if d.redelivery)
    jobs = await queued(ctx["redis"])
    assert [j.split(":")[0] for j in jobs] == ["check", "issue"], "one job each, however they arrived"


async def test_a_labelled_issue_without_a_job_gets_exactly_one(
    gh: LocalGitHub, repo: Repo, ctx: dict[str, Any]
) -> None:
    gh.sim.open_issue(repo, "wrong sum")  # no hookshot: the label's webhook never arrives
    gh.sim.open_issue(repo, "unrelated")
    gh.sim.label_issue(repo, 1, "AutoFix")  # labels ignore case
    gh.sim.label_issue(repo, 2, "bug")
    redis: Redis = ctx["redis"]

    first = await rec.reconcile(ctx)
    again = await rec.reconcile(ctx)

    [job_id] = first["enqueued"]
    assert job_id.startswith(f"issue:{repo.id}:1:")
    assert again["enqueued"] == []
    assert first["problems"] == [] == again["problems"]
    assert await queued(redis) == [job_id]

    # the job ran and its queue entry and result are long gone: the job record still counts
    await redis.delete(JOB_PREFIX + job_id)
    await redis.zrem(QUEUE, job_id)
    await redis.zadd(INDEX, {job_id: 1.0})
    assert (await rec.reconcile(ctx))["enqueued"] == []
    assert await queued(redis) == []


async def test_a_failed_check_on_the_default_branch_without_a_job_gets_one(
    gh: LocalGitHub, repo: Repo, ctx: dict[str, Any]
) -> None:
    gh.sim.fail_check(repo, head(repo), "lint", app_id=None)
    found = await rec.reconcile(ctx)
    assert found["enqueued"] == [f"check:{repo.id}:{head(repo)}:lint"]
    assert (await rec.reconcile(ctx))["enqueued"] == []


async def test_a_second_concurrent_run_does_nothing(gh: LocalGitHub, repo: Repo, ctx: dict[str, Any]) -> None:
    gh.sim.open_issue(repo, "wrong sum")
    gh.sim.label_issue(repo, 1, "autofix")

    one, two = await asyncio.gather(rec.reconcile(ctx), rec.reconcile(ctx))

    assert sorted([one["busy"], two["busy"]]) == [False, True]
    busy = one if one["busy"] else two
    assert busy["enqueued"] == []
    assert busy["redelivered"] == []
    assert len(await queued(ctx["redis"])) == 1
    assert await ctx["redis"].exists(rec.LOCK_KEY) == 0, "released after the run"


async def test_a_lock_held_elsewhere_means_no_github_call(
    gh: LocalGitHub, repo: Repo, ctx: dict[str, Any]
) -> None:
    await ctx["redis"].set(rec.LOCK_KEY, "another-worker", px=60_000)
    before = len(gh.state.requests)
    assert (await rec.reconcile(ctx))["busy"] is True
    assert len(gh.state.requests) == before
    assert await ctx["redis"].get(rec.LOCK_KEY) == b"another-worker", "someone else's lock is kept"


async def test_without_app_credentials_it_says_so(ctx: dict[str, Any]) -> None:
    result = await rec.reconcile(ctx | {"github": None})
    assert result["problems"] == ["no GitHub App credentials: nothing to reconcile"]


def test_cron_jobs_run_reconcile_every_five_minutes(settings: Settings) -> None:
    [job] = rec.cron_jobs(settings)
    assert job.name == "reconcile"
    assert job.unique
    assert job.run_at_startup
    assert job.minute == set(range(2, 60, 5))


# -- pure -------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def _delivery(delivery_id: int, guid: str, code: int = 503) -> Any:
    return parse_delivery(
        {"id": delivery_id, "guid": guid, "delivered_at": NOW.isoformat(), "status": "x", "status_code": code}
    )


def test_decide_redeliveries_asks_once_per_attempt_and_caps_a_guid() -> None:
    failed = [_delivery(1, "a"), _delivery(2, "b"), _delivery(3, "c")]
    picked = rec.decide_redeliveries(failed, asked={1}, tries={"c": rec.MAX_REDELIVERIES})
    assert [d.guid for d in picked] == ["b"]


@pytest.mark.parametrize(
    ("run", "kept"),
    [
        ({"status": "completed", "conclusion": "failure", "completed_at": "2026-11-21T05:00:00Z"}, True),
        ({"status": "completed", "conclusion": "timed_out", "completed_at": "2026-11-21T00:00:00Z"}, True),
        ({"status": "completed", "conclusion": "failure", "completed_at": "2026-11-20T23:59:59Z"}, False),
        ({"status": "completed", "conclusion": "success", "completed_at": "2026-11-21T05:00:00Z"}, False),
        ({"status": "in_progress", "conclusion": None, "completed_at": None}, False),
    ],
)
def test_recent_failures(run: dict[str, Any], kept: bool) -> None:
    assert (rec.recent_failures([run], NOW - timedelta(hours=6)) == [run]) is kept


@pytest.mark.parametrize(
    ("job_id", "thread"),
    [
        ("issue:12:7:2026-11-21T05:00:00Z", (12, 7)),
        ("check:12:abc:tests", None),
        ("issue:12:x:y", None),
        ("issue:12", None),
    ],
)
def test_issue_thread(job_id: str, thread: tuple[int, int] | None) -> None:
    assert rec.issue_thread(job_id) == thread
