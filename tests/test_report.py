"""`autofix report`: the numbers in the report are the numbers seeded in a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app import stats
from app.artefacts import JobArtefacts
from app.audit import append_audit
from app.job_records import JobStore
from app.report import (
    SinceError,
    build_report,
    days_between,
    fetch_report,
    iso_week,
    parse_since,
    percentile,
    render_json,
    render_md,
)
from tests.support import cli_env, run_autofix

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("7d", NOW - 7 * DAY),
        ("36h", NOW - 36 * 3600),
        ("2026-11-14", datetime(2026, 11, 14, tzinfo=UTC).timestamp()),
        ("2026-11-20T08:30:00Z", datetime(2026, 11, 20, 8, 30, tzinfo=UTC).timestamp()),
        ("2026-11-20T09:30:00+01:00", datetime(2026, 11, 20, 8, 30, tzinfo=UTC).timestamp()),
    ],
)
def test_since_takes_days_hours_or_a_date(text: str, start: float) -> None:
    assert parse_since(text, NOW) == start


@pytest.mark.parametrize("text", ["", "7", "7w", "0d", "-3d", "yesterday", "2026-13-01", "2026-12-01"])
def test_a_bad_since_is_one_line_naming_the_value(text: str) -> None:
    with pytest.raises(SinceError) as e:
        parse_since(text, NOW)
    assert "\n" not in str(e.value)
    assert repr(text) in str(e.value)


def test_the_window_reads_every_utc_day_it_touches() -> None:
    assert days_between(NOW - 36 * 3600, NOW) == ["2026-11-20", "2026-11-21"]
    assert days_between(NOW - 7 * DAY, NOW)[0] == "2026-11-14"
    assert len(days_between(NOW - 7 * DAY, NOW)) == 8


def test_p90_is_the_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 21)], 90) == 18.0


def test_iso_week_names_the_week() -> None:
    assert iso_week(date(2026, 11, 19)) == "2026-W47"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"


def test_rates_are_none_when_nothing_was_attempted() -> None:
    report = build_report(stats.DayStats(""), since=NOW - DAY, until=NOW, repo=None, source="day counters")
    assert (report.proven_rate, report.merge_rate, report.time_to_pr["median_s"]) == (None, None, None)
    text = render_md(report)
    assert "0 of 0 attempts (n/a)" in text
    assert "**Refusals**: none" in text


async def seed_days(redis: Redis) -> None:
    """Two days inside a 7-day window and one long before it."""
    day1, day2, old = stats.day_of(NOW - 2 * DAY), stats.day_of(NOW), stats.day_of(NOW - 30 * DAY)
    counts = stats.Counts()
    for day, kind, outcome, n in [
        (day1, "fix_check_run", "pr_opened", 3),
        (day1, "fix_check_run", "skipped", 2),
        (day2, "fix_check_run", "unproven", 1),
        (day2, "fix_check_run", "pr_opened", 1),
        (day2, "fix_issue", "pr_opened", 1),
        (day2, "fix_issue", "cancelled", 1),
        (old, "fix_check_run", "pr_opened", 50),
    ]:
        counts.add(day, f"jobs:{kind}", n).add(day, f"outcome:{kind}:{outcome}", n)
    counts.add(day1, "reason:fix_check_run:budget_jobs_per_hour", 2)
    counts.add(day2, "reason:fix_issue:superseded", 1)
    counts.add(day1, "proven", 3).add(day2, "proven", 2).add(old, "proven", 50)
    counts.add(day1, "prs:opened", 3).add(day2, "prs:opened", 2).add(old, "prs:opened", 50)
    counts.add(day2, "prs:merged", 3).add(day2, "prs:closed", 1).add(day2, "prs:reverted", 1)
    counts.add(day1, "tokens:claude-sonnet", 120_000).add(day1, "dollars:claude-sonnet", 1.25)
    counts.add(day2, "tokens:claude-sonnet", 30_000).add(day2, "dollars:claude-sonnet", 0.5)
    counts.add(day2, "tokens:gpt-small", 9_000).add(day2, "dollars:gpt-small", 0.03)
    counts.add(day2, "flaky", 2).add(old, "flaky", 9)
    assert await stats.apply(redis, counts, once="seed")
    for seconds, when in [(60, NOW - 2 * DAY), (300, NOW - 2 * DAY), (120, NOW - 2 * DAY), (900, NOW),
                          (240, NOW), (5, NOW - 30 * DAY)]:  # fmt: skip
        await stats.add_time_to_pr(redis, seconds, now=when)
    for fp, n, when in [("v1:aaaa", 4, NOW), ("v1:bbbb", 2, NOW - 2 * DAY), ("v1:cccc", 1, NOW),
                        ("v1:bbbb", 3, NOW), ("v1:old", 99, NOW - 30 * DAY)]:  # fmt: skip
        for _ in range(n):
            await stats.add_fingerprint(redis, fp, now=when)


async def test_the_report_of_all_repositories_is_the_day_counters_of_the_window(redis: Redis) -> None:
    await seed_days(redis)

    report = await fetch_report(redis, since=NOW - 7 * DAY, now=NOW)

    assert report.jobs == {
        "fix_check_run": {"total": 7, "outcomes": {"pr_opened": 4, "skipped": 2, "unproven": 1}},
        "fix_issue": {"total": 2, "outcomes": {"cancelled": 1, "pr_opened": 1}},
    }
    assert (report.attempts, report.proven, report.proven_rate) == (6, 5, 0.8333)
    assert report.prs == {"opened": 5, "merged": 3, "closed": 1, "reverted": 1}
    assert report.merge_rate == 0.6
    assert report.time_to_pr == {"count": 5, "median_s": 240.0, "p90_s": 900.0}
    assert report.models == {
        "claude-sonnet": {"tokens": 150_000, "dollars": 1.75},
        "gpt-small": {"tokens": 9_000, "dollars": 0.03},
    }
    assert report.dollars == 1.78
    assert report.fingerprints == [("v1:bbbb", 5), ("v1:aaaa", 4), ("v1:cccc", 1)]
    assert report.flaky == 2
    assert report.refusals == {"budget_jobs_per_hour": 2, "superseded": 1}

    text = render_md(report)
    assert "- **Jobs**: 9 — fix_check_run 7 (pr_opened 4, skipped 2, unproven 1); fix_issue 2" in text
    assert "- **Proven fixes**: 5 of 6 attempts (83%)" in text
    assert "- **PRs**: 5 opened, 3 merged (60%), 1 closed unmerged, 1 reverted" in text
    assert "- **Time to PR**: median 4m 00s, p90 15m 00s (5 PRs)" in text
    assert "- **Cost**: $1.78 — claude-sonnet 150,000 tokens $1.75; gpt-small 9,000 tokens $0.03" in text
    assert "- **Flaky tests found**: 2" in text
    assert "- **Refusals**: budget_jobs_per_hour 2, superseded 1" in text
    assert "| `v1:bbbb` | 5 |" in text
    assert "v1:old" not in text
    assert len(text.splitlines()) <= 20  # read in 30 seconds

    data = json.loads(render_json(report))
    assert data["fingerprints"][0] == {"fingerprint": "v1:bbbb", "failures": 5}
    assert (data["since"], data["until"]) == ("2026-11-14T12:00:00Z", "2026-11-21T12:00:00Z")


class Tick:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def seed_job(
    redis: Redis,
    clock: Tick,
    job_id: str,
    repo: str,
    outcome: str,
    *,
    gate: str = "ok",
    fingerprint: str | None = None,
    minutes: float = 5,
    calls: Sequence[tuple[str, int, int, float]] = (),
) -> None:
    """A finished job as the pipeline leaves it: evidence, gate, (reproduce, publish), its outcome.
    Finishing it also counts it in the day counters (app/telemetry.py)."""
    store = JobStore(redis, clock=clock)
    record = await store.start(job_id, "fix_check_run", repo, {"repo": repo})
    async with store.phase(record, "evidence") as p:
        if fingerprint:
            p.detail["fingerprint"] = fingerprint
    async with store.phase(record, "gate") as p:
        p.outcome = gate
    if outcome == "flaky":
        async with store.phase(record, "reproduce") as p:
            p.outcome = "flaky"
            p.detail["tests"] = ["tests/test_a.py::test_x", "tests/test_a.py::test_y"]
    if outcome == "pr_opened":
        clock.now += minutes * 60
        async with store.phase(record, "publish"):
            pass
    for model, tokens_in, tokens_out, dollars in calls:
        call = {"model": model, "input_tokens": tokens_in, "output_tokens": tokens_out, "dollars": dollars}
        await JobArtefacts(redis).add_model_call(job_id, call)
    await store.finish(record, outcome, "a sentence")
    clock.now += 60


async def test_one_repository_is_rebuilt_from_its_job_records(redis: Redis) -> None:
    clock = Tick(NOW - 3 * DAY)
    mine, other = "octo-org/demo", "octo-org/other"
    await seed_job(redis, clock, "j1", mine, "pr_opened", fingerprint="v1:aaaa", minutes=4,
                   calls=[("claude-sonnet", 1000, 200, 0.02), ("claude-sonnet", 500, 100, 0.01)])  # fmt: skip
    await seed_job(redis, clock, "j2", mine, "pr_opened", fingerprint="v1:bbbb", minutes=10)
    await seed_job(redis, clock, "j3", mine, "unproven", fingerprint="v1:aaaa",
                   calls=[("gpt-small", 300, 30, 0.001)])  # fmt: skip
    await seed_job(redis, clock, "j4", mine, "skipped", gate="budget_dollars_per_day")
    await seed_job(redis, clock, "j5", mine, "flaky", fingerprint="v1:cccc")
    await seed_job(redis, clock, "j6", other, "pr_opened", fingerprint="v1:zzzz", minutes=1,
                   calls=[("claude-sonnet", 9000, 900, 0.5)])  # fmt: skip
    running = await JobStore(redis, clock=clock).start("j7", "fix_check_run", mine, {})
    assert running.status == "running"  # not counted until it ends
    old = Tick(NOW - 20 * DAY)
    await seed_job(redis, old, "j0", mine, "pr_opened", fingerprint="v1:old")
    await append_audit(redis, "pr.outcome", repo=mine, number=1, outcome="merged", fingerprint="v1:aaaa")
    await append_audit(redis, "pr.outcome", repo=other, number=9, outcome="closed", fingerprint="v1:zzzz")
    await append_audit(redis, "fix.reverted", repo=mine, sha="abc", number=1, fingerprint="v1:aaaa")

    report = await fetch_report(redis, since=NOW - 7 * DAY, now=time.time(), repo=mine)

    assert report.source == "job records"
    assert report.jobs == {
        "fix_check_run": {"total": 5, "outcomes": {"pr_opened": 2, "flaky": 1, "skipped": 1, "unproven": 1}}
    }
    assert (report.attempts, report.proven) == (4, 2)
    assert report.prs == {"opened": 2, "merged": 1, "closed": 0, "reverted": 1}
    assert report.time_to_pr == {"count": 2, "median_s": 420.0, "p90_s": 600.0}
    assert report.models == {
        "claude-sonnet": {"tokens": 1800, "dollars": 0.03},
        "gpt-small": {"tokens": 330, "dollars": 0.001},
    }
    assert report.fingerprints == [("v1:aaaa", 2), ("v1:bbbb", 1), ("v1:cccc", 1)]
    assert (report.flaky, report.refusals) == (2, {"budget_dollars_per_day": 1})
    assert "octo-org/demo (from job records)" in render_md(report)


async def test_the_command_prints_the_seeded_numbers(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    clock = Tick(time.time() - DAY)
    await seed_job(redis, clock, "j1", "octo-org/demo", "pr_opened", minutes=3,
                   calls=[("claude-sonnet", 700, 300, 0.25)])  # fmt: skip
    await stats.apply(redis, stats.Counts().add(stats.day_of(time.time()), "jobs:fix_check_run", 4))
    env = cli_env(tmp_path, REDIS_URL=redis_url)

    md = run_autofix("report", env=env, cwd=tmp_path)
    as_json = run_autofix("report", "--repo", "octo-org/demo", "--format", "json", env=env, cwd=tmp_path)

    assert md.returncode == 0, md.stderr
    assert "- **Jobs**: 5 — fix_check_run 5 (pr_opened 1)" in md.stdout  # 4 seeded, 1 counted at finish
    assert "- **PRs**: 1 opened, 0 merged (0%)" in md.stdout
    assert "- **Cost**: $0.00" in md.stdout  # model calls are counted as they happen, not by this seed
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["jobs"] == {"fix_check_run": {"total": 1, "outcomes": {"pr_opened": 1}}}
    assert data["models"] == {"claude-sonnet": {"tokens": 1000, "dollars": 0.25}}
    assert data["time_to_pr"]["median_s"] == 180.0


def test_a_bad_since_exits_2_with_one_line(tmp_path: Path, redis_url: str) -> None:
    done = run_autofix(
        "report", "--since", "lastweek", env=cli_env(tmp_path, REDIS_URL=redis_url), cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "autofix: --since 'lastweek': expected a duration like 7d or 36h, or a date like 2026-11-14"
    ]
