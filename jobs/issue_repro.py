"""The reproduction step of an issue fix, and the pure rules around it: the model writes one test that
must fail on the current code (the `reproduce` strategy), the sandbox runs it, and the tests it added
that fail are what the fix must make pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from jobs.patch.agent import Engine, run_attempt
from jobs.patch.context import Candidate, Context
from jobs.patch.copies import copy_checkout, take_diff
from jobs.patch.prompts import Task, build_first_message
from jobs.patch.tools import Workspace
from jobs.sandbox.base import Limits, Sandbox, check_setup
from sandbox_runner.patchguard import GuardPolicy, check_patch
from sandbox_runner.proof import Verdict
from sandbox_runner.report import FailureReport
from sandbox_runner.result import Outcome, RunResult

REPRO_ID = "repro"
_FAILED = (Outcome.FAILED, Outcome.ERROR)


def passes_without_regressions(verdicts: Sequence[Verdict], runs: Sequence[RunResult]) -> Verdict | None:
    """Without a failing test nothing is proven; the best a draft can be is a change after which the
    whole suite passes, with no test lost or hidden."""
    clean = {r.candidate_id for r in runs if r.exit_code == 0 and not r.timed_out and not r.limits_hit}
    return next(
        (v for v in verdicts if v.candidate_id in clean and not v.regressions and not v.tampering), None
    )


def new_failing_tests(baseline: RunResult, repro: RunResult) -> list[str]:
    """Tests the reproduction added that fail: in the repro run, failing, and absent from the baseline."""
    before = {t.id for t in baseline.tests}
    return [t.id for t in repro.tests if t.id not in before and t.outcome in _FAILED]


async def write_reproduction(
    engine: Engine, checkout: Path, scratch: Path, context: Context, task: Task, policy: GuardPolicy
) -> Candidate:
    """One attempt that writes a failing test (the `reproduce` strategy); its diff, guarded."""
    where = scratch / "reproduce"
    baseline = await asyncio.to_thread(copy_checkout, checkout, where)
    result = await run_attempt(engine, Workspace(where), build_first_message(context, task, "reproduce"))
    diff = await asyncio.to_thread(take_diff, where, baseline)
    ending = result.ending
    rejected = check_patch(diff, policy=policy) if diff else []
    outcome = ending.outcome if diff or ending.outcome != "submitted" else "no_change"
    return Candidate(
        REPRO_ID,
        "reproduce",
        diff,
        ending.diagnosis,
        outcome,
        result.usage,
        ending.steps,
        rejected_because=rejected,
    )


async def run_batch(
    sandbox: Sandbox,
    source: str,
    sha: str,
    setup: str | None,
    command: str,
    patches: dict[str, str],
    limits: Limits,
) -> tuple[RunResult, list[RunResult]]:
    results = await sandbox.run(source, sha, setup, command, patches, limits=limits)
    check_setup(results)
    return results[0], results[1:]


def build_issue_task(report: FailureReport, text: str, guidance: str | None) -> Task:
    """The traceback when the issue quotes one, else the issue's text. A task built on a report shows
    the model no issue text, so the maintainer's words (in `text` too) also go in as the hint."""
    if report.frames or report.failing_tests:
        return Task(report, text, hint=guidance)
    return Task(None, text)
