"""What a finished job and each model call add to the stats: the pure counts over job records, then
the counting on a real Redis (once per job id), and model calls recorded through the engine's hook
against the fake Anthropic API served over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app import stats
from app.artefacts import JobArtefacts
from app.job_records import JobRecord, JobStore, PhaseRecord
from app.telemetry import (
    build_job_counts,
    call_counts,
    count_job,
    failure_time,
    fingerprint_of,
    flaky_of,
    model_call_recorder,
    proven_of,
    refusal_of,
)
from jobs import names
from jobs.patch.agent import run_attempt
from jobs.patch.pricing import cost, price_for
from jobs.patch.tools import Workspace
from tests.patch_support import (
    MODEL,
    anthropic_provider,
    engine,
    first_message,
    fix_script,
    make_repo,
    served_anthropic,
)

NOW = 1_763_700_000.0  # 2025-11-21 04:40 UTC
DAY = stats.day_of(NOW)


def phase(name: str, outcome: str | None, seconds: float = 1.0, **detail: Any) -> PhaseRecord:
    return PhaseRecord(name, "done", NOW - 100, NOW - 100 + seconds, outcome, dict(detail))


def record(outcome: str, *phases: PhaseRecord, kind: str = names.FIX_CHECK_RUN, **request: Any) -> JobRecord:
    return JobRecord("job-1", kind, "o/r", NOW - 600, NOW, "done", outcome, "…", dict(request), list(phases))


def counters(rec: JobRecord) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, name, amount in build_job_counts(rec, NOW).items:
        if key == stats.TOTAL:
            out[name] = out.get(name, 0) + amount
    return out


def test_a_proven_pr_counts_its_kind_outcome_proof_pr_and_phase_times() -> None:
    rec = record(
        "pr_opened",
        phase("evidence", "test_failure", 2.5, fingerprint="v1:ab"),
        phase("gate", "ok", 0.5),
        phase("reproduce", "reproduced", 30),
        phase("validate", None, 40),
        phase("publish", None, 3),
    )
    assert counters(rec) == {
        "jobs:fix_check_run": 1,
        "outcome:fix_check_run:pr_opened": 1,
        "proven": 1,
        "prs:opened": 1,
        "phase_seconds:evidence": 2.5, "phase_count:evidence": 1,
        "phase_seconds:gate": 0.5, "phase_count:gate": 1,
        "phase_seconds:reproduce": 30, "phase_count:reproduce": 1,
        "phase_seconds:validate": 40, "phase_count:validate": 1,
        "phase_seconds:publish": 3, "phase_count:publish": 1,
    }  # fmt: skip
    assert fingerprint_of(rec) == "v1:ab"
    every = build_job_counts(rec, NOW).items
    assert {k for k, _, _ in every} == {stats.DAY.format(day=DAY), stats.TOTAL}


@pytest.mark.parametrize(
    ("outcome", "gate", "reason"),
    [
        ("skipped", "budget_jobs_per_day", "budget_jobs_per_day"),
        ("cancelled", "superseded", "superseded"),
        ("config_error", "config_error", "config_error"),
        ("no_command", "ok", "no_command"),  # past the gate: the outcome is the reason
        ("stopped", None, "stopped"),
        ("unproven", "ok", None),  # not a refusal
        ("pr_opened", "ok", None),
    ],
)
def test_refusals_are_counted_by_the_gates_reason_code(
    outcome: str, gate: str | None, reason: str | None
) -> None:
    rec = record(outcome, phase("gate", gate))
    assert refusal_of(rec) == reason
    found = {k: v for k, v in counters(rec).items() if k.startswith("reason:")}
    assert found == ({f"reason:fix_check_run:{reason}": 1} if reason else {})


@pytest.mark.parametrize(
    ("outcome", "validate", "proven"),
    [
        ("pr_opened", None, True),
        ("pr_updated", None, True),  # a revision is proven against the bot PR's head
        ("suggested", None, True),  # a fork's proven fix, as suggestions
        ("unproven", "unproven", False),
        ("draft_unproven", None, False),  # a draft PR is opened, but nothing is proven
        ("sandbox_error", "proven", True),  # the validate phase said so before publishing failed
    ],
)
def test_proven_means_the_sandbox_proved_a_fix(outcome: str, validate: str | None, proven: bool) -> None:
    rec = record(outcome, phase("validate", validate))
    assert proven_of(rec) is proven
    assert ("proven" in counters(rec)) is proven
    assert ("prs:opened" in counters(rec)) is (outcome in ("pr_opened", "draft_unproven"))


def test_flaky_tests_are_the_reproductions_or_the_failing_ones() -> None:
    named = record("flaky", phase("reproduce", "flaky", tests=["t::a", "t::b"]))
    from_evidence = record(
        "flaky",
        phase("evidence", "test_failure", failing_tests=["t::a", "t::b", "t::c"]),
        phase("reproduce", "flaky"),
    )
    unnamed = record("flaky", phase("reproduce", "flaky"))
    assert [flaky_of(r) for r in (named, from_evidence, unnamed)] == [2, 3, 1]
    assert counters(named)["flaky"] == 2
    assert flaky_of(record("pr_opened", phase("reproduce", "reproduced"))) == 0


def test_running_and_skipped_phases_add_no_time() -> None:
    running = PhaseRecord("propose", "running", NOW - 5)
    skipped = PhaseRecord("reproduce", "skipped", NOW, NOW, "no_reproduction")
    failed = PhaseRecord("validate", "failed", NOW - 7, NOW - 2)
    found = counters(record("sandbox_error", running, skipped, failed))
    assert {k: v for k, v in found.items() if k.startswith("phase")} == {
        "phase_seconds:validate": 5, "phase_count:validate": 1
    }  # fmt: skip


def test_time_to_pr_starts_at_the_failure_when_the_request_says_when() -> None:
    assert failure_time(record("pr_opened", completed_at="2025-11-21T04:00:00Z")) == NOW - 2400
    assert failure_time(record("pr_opened", label_event="2025-11-21T04:10:00+00:00")) == NOW - 1800
    assert failure_time(record("pr_opened", completed_at="not a time")) == NOW - 600  # created_at


async def test_a_job_is_counted_once_however_often_it_finishes(redis: Redis) -> None:
    store = JobStore(redis, clock=lambda: NOW)
    rec = await store.start(
        "check:1:abc:tests", names.FIX_CHECK_RUN, "o/r", {"completed_at": "2025-11-21T04:30:00Z"}
    )
    rec.phases.append(phase("evidence", "test_failure", fingerprint="v1:ff"))
    await store.finish(rec, "pr_opened", "Opened #3.")
    await store.finish(rec, "pr_opened", "Opened #3.")  # a retried job finishing again
    assert not await count_job(redis, rec, now=NOW)
    total = await stats.read_total(redis)
    assert total["jobs:fix_check_run"] == 1
    assert total["prs:opened"] == 1
    assert total["ttp_count"] == 1
    assert total["ttp_seconds"] == 600
    (day,) = await stats.read_days(redis, [DAY])
    assert day.get("outcome:fix_check_run:pr_opened") == 1
    assert day.time_to_pr == [600.0]
    assert day.fingerprints == {"v1:ff": 1}


async def test_a_command_job_is_counted_as_replied(redis: Redis) -> None:
    store = JobStore(redis, clock=lambda: NOW)
    rec = await store.start("cmd:1", names.RUN_COMMAND, "o/r", {})
    await store.finish(rec, "replied", "help")
    (day,) = await stats.read_days(redis, [DAY])
    assert day.by_prefix("outcome:run_command:") == {"replied": 1}
    assert "prs:opened" not in day.counters


def test_a_calls_tokens_are_all_its_tokens() -> None:
    call = {"at": NOW, "model": MODEL, "input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 100,
            "cache_write_tokens": 1000, "dollars": 0.25}  # fmt: skip
    items = {(n, a) for k, n, a in call_counts(call, NOW).items if k == stats.TOTAL}
    assert items == {(f"tokens:{MODEL}", 1115), (f"dollars:{MODEL}", 0.25)}


async def test_each_model_call_is_recorded_with_its_usage_and_counted(redis: Redis, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url)) as eng:
            eng.on_call = model_call_recorder(redis, "job-7")
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "submitted"
    calls = await JobArtefacts(redis).model_calls("job-7")
    assert len(calls) == 3 == result.usage.calls
    assert {c["attempt"] for c in calls} == {1}
    assert all(c["model"] == MODEL and c["provider"] == "anthropic" and c["seconds"] >= 0 for c in calls)
    u = result.usage
    assert sum(c["input_tokens"] for c in calls) == u.input_tokens
    assert sum(c["cache_write_tokens"] for c in calls) == u.cache_creation_input_tokens
    assert sum(c["cache_read_tokens"] for c in calls) == u.cache_read_input_tokens
    assert sum(c["dollars"] for c in calls) == pytest.approx(cost(price_for(MODEL), u), abs=1e-5)
    total = await stats.read_total(redis)
    all_tokens = u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
    assert total[f"tokens:{MODEL}"] == all_tokens
    assert total[f"dollars:{MODEL}"] == pytest.approx(u.dollars, abs=1e-5)


async def test_a_failing_hook_does_not_end_the_attempt(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    seen: list[dict[str, Any]] = []

    async def broken(call: dict[str, Any]) -> None:
        seen.append(call)
        raise ConnectionError("Redis went away")

    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url)) as eng:
            eng.on_call = broken
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "submitted"
    assert len(seen) == 3
