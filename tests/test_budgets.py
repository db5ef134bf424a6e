"""Budget ledgers on a real Redis: attempts and spend per repo, idempotent under retries, UTC periods;
the installation's day, reserved atomically across the jobs of all its repositories."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.budgets import BudgetLedger, Hold, InstallationBudget, Refused, build_installation_budget, periods
from app.repo_config import parse_repo_config
from jobs.gate import GateFacts, decide_gate
from tests.github_support import Clock
from tests.support import make_settings

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()


def test_periods_are_utc_days_and_months() -> None:
    day, month, midnight = periods(NOON)
    assert (day, month) == ("2026-11-21", "2026-11")
    assert midnight == NOON - 12 * 3600


async def test_attempts_count_by_hour_and_day_and_a_retry_counts_once(redis: Redis) -> None:
    ledger = BudgetLedger(redis, repo_id=1)
    await ledger.record_attempt("check:1:a:test", now=NOON - 5 * 3600)  # this morning
    await ledger.record_attempt("check:1:b:test", now=NOON - 600)
    await ledger.record_attempt("check:1:b:test", now=NOON - 60)  # the same job, retried
    await ledger.record_attempt("check:1:c:test", now=NOON - 13 * 3600)  # yesterday
    usage = await ledger.usage(now=NOON)
    assert (usage.jobs_last_hour, usage.jobs_today) == (1, 2)
    assert (await BudgetLedger(redis, repo_id=2).usage(now=NOON)).jobs_today == 0


async def test_spend_is_a_running_total_per_job(redis: Redis) -> None:
    ledger = BudgetLedger(redis, repo_id=1)
    await ledger.record_spend("job-a", 0.25, now=NOON)
    await ledger.record_spend("job-a", 0.75, now=NOON)  # the job's total grew; not 1.00
    await ledger.record_spend("job-b", 1.5, now=NOON)
    await ledger.record_spend("job-c", 4.0, now=NOON - 2 * 86_400)  # earlier this month
    usage = await ledger.usage(now=NOON)
    assert usage.dollars_today == 2.25
    assert usage.dollars_this_month == 6.25


async def test_old_attempts_are_trimmed(redis: Redis) -> None:
    ledger = BudgetLedger(redis, repo_id=1)
    await ledger.record_attempt("old", now=NOON - 3 * 86_400)
    await ledger.record_attempt("new", now=NOON)
    assert await redis.zcard("autofix:budget:1:jobs") == 1


async def test_an_installations_day_is_shared_by_the_jobs_of_all_its_repositories(redis: Redis) -> None:
    clock = Clock()
    clock.now = NOON
    repo_a = InstallationBudget(redis, 7, 1.0, "check:101:a:tests", clock)
    repo_b = InstallationBudget(redis, 7, 1.0, "check:202:b:tests", clock)
    other = InstallationBudget(redis, 8, 1.0, "check:303:c:tests", clock)  # another installation

    first = await repo_a.reserve(0.4)
    assert isinstance(first, Hold)
    await repo_a.settle(first, 0.35)  # the call cost less than its worst case
    held = await repo_b.reserve(0.6)
    assert isinstance(held, Hold)
    assert await repo_b.reserve(0.1) == Refused(spent=0.95, cap=1.0, need=0.1)
    assert await repo_a.reserve(0.1) == Refused(spent=0.95, cap=1.0, need=0.1)
    assert isinstance(await other.reserve(0.9), Hold)  # not counted against installation 7
    await repo_b.settle(held, 0.0)  # not answered: the hold comes back
    assert isinstance(await repo_a.reserve(0.6), Hold)
    assert await repo_a.spent_today() == 0.95

    clock.now += 12 * 3600  # 00:00 UTC: a new day
    assert await repo_b.spent_today() == 0
    assert isinstance(await repo_b.reserve(0.9), Hold)


async def test_concurrent_reservations_of_one_installation_cannot_jointly_pass_its_cap(redis: Redis) -> None:
    jobs = [InstallationBudget(redis, 7, 1.0, f"check:{n}:sha:tests", lambda: NOON) for n in range(20)]
    answers = await asyncio.gather(*(job.reserve(0.15) for job in jobs))
    assert sum(isinstance(a, Hold) for a in answers) == 6  # 6 x 0.15 = 0.90; a seventh would pass 1.00
    assert await jobs[0].spent_today() == pytest.approx(0.9)


def test_the_installation_budget_is_off_unless_the_operator_sets_it(redis: Redis) -> None:
    assert build_installation_budget(make_settings(), redis, 7, "j") is None
    budget = build_installation_budget(make_settings(autofix_installation_daily_dollars=25), redis, 7, "j")
    assert budget is not None
    assert (budget.installation_id, budget.cap) == (7, 25.0)
    with pytest.raises(ValueError, match="positive amount of dollars"):
        make_settings(autofix_installation_daily_dollars=0)


@pytest.mark.parametrize(
    ("spent", "cap", "reason"),
    [(0.0, None, "ok"), (4.99, 5.0, "ok"), (5.0, 5.0, "budget_installation_dollars_per_day")],
)
def test_the_gate_skips_a_job_once_the_installations_day_is_spent(
    spent: float, cap: float | None, reason: str
) -> None:
    facts = GateFacts(kind="check", installation_dollars_today=spent, installation_dollars_per_day=cap)
    decision = decide_gate(facts, parse_repo_config(None))
    assert decision.reason == reason
    if reason != "ok":
        assert decision.detail == (
            "Budget reached: 5.00 of 5.00 dollars spent today by this installation, across its "
            "repositories (`AUTOFIX_INSTALLATION_DAILY_DOLLARS`); it resets at 00:00 UTC."
        )
