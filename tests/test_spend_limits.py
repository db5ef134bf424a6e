"""Refusals for money end a fix job with a reason a maintainer can act on, and make no more model calls:
Anthropic's spend limit (checklist C9) and the installation's daily dollar cap (K3), through the real
check job against the local GitHub and the fake Anthropic API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.budgets import Hold, InstallationBudget
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.fix_issue import fix_issue
from jobs.patch.agent import decide_job_stop, run_attempt
from jobs.patch.context import Candidate
from jobs.patch.tools import Workspace
from tests.fakes.anthropic_messages import credit_too_low, spend_cap_reached
from tests.github_support import Clock
from tests.patch_support import (
    anthropic_provider,
    engine,
    first_message,
    fix_script,
    make_repo,
    served_anthropic,
)
from tests.pipeline_support import FILES, failing_check
from tests.support import LocalGitHub
from tests.test_fix_issue_e2e import ISSUE, repro_and_fix_turns, request_for, stats_repo

CAP = 0.5


async def test_C9_a_spend_cap_ends_the_check_job_with_its_reason_and_no_more_calls(
    gh: LocalGitHub, deps: Deps, model: Any, tmp_path: Path
) -> None:
    _, request = failing_check(gh, tmp_path, FILES)
    model.state.script(spend_cap_reached("2026-12-01"), *fix_script())

    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)

    assert result["outcome"] == "spend_limit"
    assert result["reason"].startswith(
        "Anthropic refused: the organisation's monthly spend cap for its API tier is reached (429 "
    )
    assert "You will regain access on 2026-12-01 at 00:00 UTC." in result["reason"]
    assert len(model.state.bodies) == 1


async def test_K3_a_spent_installation_day_skips_a_job_in_another_repository(
    gh: LocalGitHub, deps: Deps, model: Any, redis: Redis, tmp_path: Path
) -> None:
    clock = Clock()
    deps = replace(
        deps,
        clock=clock,
        settings=deps.settings.model_copy(update={"autofix_installation_daily_dollars": CAP}),
    )
    elsewhere = InstallationBudget(
        redis, gh.installation_id, CAP, "check:999:sha:tests", clock
    )  # another repo's job
    hold = await elsewhere.reserve(CAP)
    assert isinstance(hold, Hold)
    await elsewhere.settle(hold, CAP)
    _, request = failing_check(gh, tmp_path, FILES)

    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)

    assert (result["outcome"], result["reason"]) == (
        "skipped",
        "Budget reached: 0.50 of 0.50 dollars spent today by this installation, across its repositories "
        "(`AUTOFIX_INSTALLATION_DAILY_DOLLARS`); it resets at 00:00 UTC.",
    )
    assert model.state.bodies == []


async def test_K3_a_call_the_installations_day_cannot_afford_is_not_made(
    redis: Redis, tmp_path: Path
) -> None:
    clock = Clock()
    repo = make_repo(tmp_path)
    spent = InstallationBudget(redis, 7, CAP, "check:1:a:tests", clock)
    hold = await spent.reserve(0.49)
    assert isinstance(hold, Hold)
    await spent.settle(hold, 0.49)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url), clock=clock) as eng:
            eng.shared = InstallationBudget(redis, 7, CAP, "check:2:b:tests", clock)  # another repo's job
            result = await run_attempt(eng, Workspace(repo), first_message())
            assert decide_job_stop(eng, [Candidate("c1", "s", "", None, result.ending.outcome)]) == (
                "skipped",
                "Budget reached: 0.49 of 0.50 dollars spent today by this installation, across its "
                "repositories (`AUTOFIX_INSTALLATION_DAILY_DOLLARS`); it resets at 00:00 UTC.",
            )
        assert result.ending.outcome == "budget_exhausted"
        assert result.ending.detail.startswith("installation budget: $0.4900 of $0.50 spent or held today")
        assert fake.state.bodies == []

        clock.now += 86_400  # the next UTC day
        async with engine(anthropic_provider(fake.url), clock=clock) as eng:
            eng.shared = InstallationBudget(redis, 7, CAP, "check:3:b:tests", clock)
            again = await run_attempt(eng, Workspace(repo), first_message())
        assert again.ending.outcome == "submitted"
        assert await eng.shared.spent_today() == pytest.approx(again.usage.dollars, abs=1e-6)  # holds settled


async def test_C9_an_issue_job_refused_for_money_ends_with_the_reason(
    gh: LocalGitHub, deps: Deps, model: Any
) -> None:
    repo = stats_repo(gh)
    issue = gh.sim.open_issue(repo, "mean() divides by the wrong count", ISSUE)
    gh.sim.label_issue(repo, issue.number, "autofix")
    model.state.script(credit_too_low(), *repro_and_fix_turns())

    result = await fix_issue({"deps": deps, "job_id": "issue:1"}, request_for(gh, repo, issue.number))

    assert result["outcome"] == "spend_limit"
    assert result["reason"].startswith(
        "Anthropic refused: the organisation's credit balance is too low (400 "
    )
    assert len(model.state.bodies) == 1
    assert [i for i in repo.issues.values() if i.pull is not None] == []
