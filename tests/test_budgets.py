"""Budget ledgers on a real Redis: attempts and spend per repo, idempotent under retries, UTC periods."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from app.budgets import BudgetLedger, periods

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
