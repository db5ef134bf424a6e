"""The scheduled weekly report: posted once per week as an issue in the local GitHub, with the numbers
seeded in Redis."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.worker import Worker
from githubkit.exception import RequestFailed
from redis.asyncio import Redis

from app import stats
from app.github.client import GitHubApp
from app.queue import deserialize, serialize
from app.settings import Settings
from jobs import weekly_report as weekly
from jobs.worker import redis_settings
from tests.support import OWNER, LocalGitHub, make_settings

DAY = 86_400


@pytest.mark.parametrize(
    ("now", "since", "until", "week"),
    [  # a Monday run reports the week before; a late re-run keeps its name; a Friday run names its own
        ("2026-11-23T08:00:00", "2026-11-16T00:00:00", "2026-11-22T23:59:59", "2026-W47"),
        ("2026-11-24T13:30:00", "2026-11-17T00:00:00", "2026-11-23T23:59:59", "2026-W47"),
        ("2026-11-27T08:00:00", "2026-11-20T00:00:00", "2026-11-26T23:59:59", "2026-W48"),
        ("2027-01-04T08:00:00", "2026-12-28T00:00:00", "2027-01-03T23:59:59", "2026-W53"),
    ],
)
def test_the_window_is_seven_whole_utc_days_named_by_their_week(
    now: str, since: str, until: str, week: str
) -> None:
    def ts(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    assert weekly.build_window(ts(now)) == (ts(since), ts(until), week)


def test_no_cron_job_without_a_report_repo() -> None:
    assert weekly.cron_jobs(make_settings()) == []


def test_the_cron_job_runs_on_the_configured_weekday_and_hour() -> None:
    settings = make_settings(
        autofix_report_repo="octo-org/ops", autofix_report_weekday=3, autofix_report_hour=9
    )
    [job] = weekly.cron_jobs(settings)
    assert (job.name, job.coroutine) == ("weekly_report", weekly.weekly_report)
    assert (job.weekday, job.hour, job.minute, job.second, job.unique) == (3, 9, 0, 0, True)
    assert not job.run_at_startup


@pytest.fixture
def settings(gh: LocalGitHub, app_key: str, redis_url: str) -> Settings:
    return make_settings(
        github_private_key=app_key,
        github_api_url=gh.url,
        redis_url=redis_url,
        autofix_report_repo=f"{OWNER}/ops",
    )


async def seed(redis: Redis, now: float) -> None:
    """Two days inside last week's window; today and a month ago are outside it."""
    counts = stats.Counts()
    for days_ago, opened, merged in [(2, 3, 1), (5, 2, 2), (0, 40, 40), (30, 50, 50)]:
        day = stats.day_of(now - days_ago * DAY)
        counts.add(day, "jobs:fix_check_run", opened + 1).add(day, "outcome:fix_check_run:pr_opened", opened)
        counts.add(day, "outcome:fix_check_run:skipped").add(day, "reason:fix_check_run:budget_jobs_per_day")
        counts.add(day, "proven", opened).add(day, "prs:opened", opened).add(day, "prs:merged", merged)
        counts.add(day, "dollars:claude-sonnet", 0.5 * opened).add(day, "tokens:claude-sonnet", 1000 * opened)
    await stats.apply(redis, counts)
    await stats.add_time_to_pr(redis, 90, now=now - 2 * DAY)
    await stats.add_time_to_pr(redis, 30, now=now - 5 * DAY)
    await stats.add_fingerprint(redis, "v1:0123456789abcdef", now=now - 2 * DAY)


async def test_the_report_is_posted_once_with_the_seeded_numbers(
    gh: LocalGitHub, settings: Settings, redis: Redis
) -> None:
    repo = gh.sim.create_repo(OWNER, "ops")
    now = time.time()
    await seed(redis, now)
    ctx: dict[str, Any] = {"redis": redis, "settings": settings, "github": GitHubApp(settings, redis)}
    _, _, week = weekly.build_window(now)

    first = await weekly.weekly_report(ctx)
    again = await weekly.weekly_report(ctx)
    await redis.delete(weekly.POSTED.format(repo=f"{OWNER}/ops", week=week))  # a new Redis: GitHub is asked
    third = await weekly.weekly_report(ctx)

    assert first["posted"] is True
    assert (again["posted"], third["posted"]) == (False, False)
    assert first["number"] == again["number"] == third["number"]
    [issue] = [i for i in repo.issues.values() if i.title == f"Autofix weekly report {week}"]
    assert len(repo.issues) == 1
    assert issue.labels == ["autofix:report"]
    assert issue.user.login.endswith("[bot]")
    text = issue.body or ""
    assert "- **Jobs**: 7 — fix_check_run 7 (pr_opened 5, skipped 2)" in text
    assert "- **Proven fixes**: 5 of 5 attempts (100%)" in text
    assert "- **PRs**: 5 opened, 3 merged (60%), 0 closed unmerged, 0 reverted" in text
    assert "- **Time to PR**: median 1m 00s, p90 1m 30s (2 PRs)" in text
    assert "- **Cost**: $2.50 — claude-sonnet 5,000 tokens $2.50" in text
    assert "- **Refusals**: budget_jobs_per_day 2" in text
    assert "| `v1:0123456789abcdef` | 1 |" in text


async def test_without_the_app_installed_on_the_repo_it_says_so(
    gh: LocalGitHub, app_key: str, redis_url: str, redis: Redis
) -> None:
    gh.sim.create_repo("someone-else", "ops")
    settings = make_settings(
        github_private_key=app_key, github_api_url=gh.url, redis_url=redis_url,
        autofix_report_repo="someone-else/ops",
    )  # fmt: skip
    result = await weekly.weekly_report(
        {"redis": redis, "settings": settings, "github": GitHubApp(settings, redis)}
    )
    assert result["posted"] is False
    assert "Not Found" in result["problem"] or "not found" in result["problem"].lower()


async def test_without_credentials_nothing_is_posted(redis: Redis) -> None:
    settings = make_settings(autofix_report_repo="octo-org/ops")
    assert await weekly.weekly_report({"redis": redis, "settings": settings}) == {
        "posted": False,
        "problem": "no GitHub App credentials",
    }


async def test_the_local_github_creates_issues_as_github_does(gh: LocalGitHub) -> None:
    """The route the report posts to (added to the fake for it): githubkit's strict model parses the
    answer; a missing title is GitHub's 422."""
    repo = gh.sim.create_repo(OWNER, "ops")
    client = gh.client()
    created = await client.rest.issues.async_create(OWNER, "ops", title="Weekly", body="text", labels=["a:b"])
    with pytest.raises(RequestFailed) as refused:
        await client.arequest("POST", f"/repos/{OWNER}/ops/issues", json={"body": "no title"})

    assert created.status_code == 201
    assert (created.parsed_data.number, created.parsed_data.title) == (1, "Weekly")
    assert [label.name for label in created.parsed_data.labels if not isinstance(label, str)] == ["a:b"]
    assert repo.issues[1].body == "text"
    assert refused.value.response.status_code == 422


async def test_an_arq_worker_runs_the_cron_job(
    gh: LocalGitHub, settings: Settings, redis: Redis, redis_url: str
) -> None:
    """The cron job as the fix worker will run it (here at start-up, in burst mode)."""
    repo = gh.sim.create_repo(OWNER, "ops")
    await seed(redis, time.time())
    [job] = weekly.cron_jobs(settings)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"], ctx["github"] = settings, GitHubApp(settings, ctx["redis"])

    worker = Worker(
        functions=[],
        cron_jobs=[dataclasses.replace(job, run_at_startup=True)],
        redis_settings=redis_settings(redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        on_startup=on_startup,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        timezone=UTC,
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    [issue] = repo.issues.values()
    assert issue.title.startswith("Autofix weekly report ")
    assert "- **PRs**: 5 opened, 3 merged (60%)" in (issue.body or "")
