"""The repair core shared by the fix-check job, the fix-issue job and `autofix fix`: localize, propose,
validate in the sandbox, and refine once when nothing was proven.

It is handed its outside world: a read-only checkout, a `Sandbox`, and the proposing and refining
steps of the patch engine as plain async callables (so the same core runs in the worker, in the
local CLI and in tests). It returns everything the publish step and the job record need.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.patch.agent import Engine
from jobs.patch.candidates import Proposal, propose
from jobs.patch.context import Candidate, Context, Usage
from jobs.patch.localize import build_context
from jobs.patch.prompts import Task
from jobs.patch.refine import refine
from jobs.sandbox.base import DEFAULT_LIMITS, Limits, Sandbox, check_setup
from sandbox_runner.patchguard import GuardPolicy
from sandbox_runner.proof import Verdict, choose
from sandbox_runner.proof import judge as judge_fix
from sandbox_runner.result import RunResult

Propose = Callable[[Context, Task], Awaitable[Proposal]]
Refine = Callable[[Context, Task, Candidate, str], Awaitable[Candidate | None]]  # ..., best, feedback
Phase = Callable[[str], Awaitable[None]]  # told when a phase starts: "localize", "propose", "validate"
Judge = Callable[[RunResult, RunResult, Sequence[str]], Verdict]  # baseline, candidate run, failing tests


@dataclass(frozen=True)
class RepairInputs:
    checkout: Path  # read-only workspace at `sha`
    source: str  # what the sandbox checks out: a clone URL or a local path
    sha: str
    command: str
    task: Task
    setup: str | None = None
    changed_lines: dict[str, list[tuple[int, int]]] | None = None  # a PR's changed lines, when known
    budget_tokens: int = 6000
    trace: dict[str, Any] | None = None  # RunResult.coverage of the reproduction: run-time evidence


@dataclass
class Repair:
    context: Context
    candidates: list[Candidate] = field(default_factory=list)
    baseline: RunResult | None = None
    runs: dict[str, RunResult] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    refined: bool = False

    def best(self) -> Verdict | None:
        agreement = {c.id: c.agreement for c in self.candidates}
        sizes = {c.id: sum(1 for ln in c.diff.splitlines() if ln[:1] in "+-") for c in self.candidates}
        return choose(self.verdicts, agreement=agreement, diff_lines=sizes)

    def candidate(self, candidate_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.id == candidate_id), None)


def engine_steps(
    engine: Engine, checkout: Path, scratch: Path, *, k: int, policy: GuardPolicy
) -> tuple[Propose, Refine]:
    """The patch engine's two steps, bound to one job's engine, checkout and guard policy."""

    async def propose_step(context: Context, task: Task) -> Proposal:
        return await propose(
            engine=engine, checkout=checkout, scratch=scratch, context=context, task=task, k=k, policy=policy
        )

    async def refine_step(context: Context, task: Task, best: Candidate, feedback: str) -> Candidate | None:
        return await refine(
            engine=engine,
            checkout=checkout,
            scratch=scratch,
            context=context,
            task=task,
            best=best,
            feedback=feedback,
            policy=policy,
        )

    return propose_step, refine_step


def sendable(candidates: Sequence[Candidate]) -> dict[str, str]:
    """The candidates worth a sandbox run: submitted, with a diff, not rejected by a guard."""
    return {
        c.id: c.diff for c in candidates if c.diff and c.outcome == "submitted" and not c.rejected_because
    }


async def _validate(
    inputs: RepairInputs, sandbox: Sandbox, patches: dict[str, str], failing: list[str], limits: Limits
) -> tuple[RunResult, list[RunResult]]:
    results = await sandbox.run(
        inputs.source, inputs.sha, inputs.setup, inputs.command, patches, failing=failing, limits=limits
    )
    check_setup(results)
    return results[0], results[1:]


async def repair(
    inputs: RepairInputs,
    *,
    sandbox: Sandbox,
    propose: Propose,
    refine: Refine | None = None,
    limits: Limits = DEFAULT_LIMITS,
    on_phase: Phase | None = None,
    judge: Judge = judge_fix,
) -> Repair:
    """`judge`: the proof rule (a revision, proven against the bot PR's head, brings its own)."""

    async def phase(name: str) -> None:
        if on_phase is not None:
            await on_phase(name)

    report = inputs.task.report
    await phase("localize")
    context = build_context(
        inputs.checkout,
        report=report,
        issue_text=inputs.task.issue_text,
        changed_lines=inputs.changed_lines,
        budget_tokens=inputs.budget_tokens,
        trace=inputs.trace,
    )
    await phase("propose")
    proposal = await propose(context, inputs.task)
    result = Repair(context, list(proposal.candidates), usage=proposal.usage)
    patches = sendable(result.candidates)
    if not patches:
        return result
    await phase("validate")
    failing = list(report.failing_tests) if report else []
    result.baseline, runs = await _validate(inputs, sandbox, patches, failing, limits)
    _record(result, runs, failing, judge)
    if result.best() is None and refine is not None:
        await _refine(inputs, sandbox, refine, result, failing, limits, judge)
    return result


def _record(result: Repair, runs: list[RunResult], failing: list[str], judge: Judge) -> None:
    assert result.baseline is not None
    for run in runs:
        result.runs[run.candidate_id] = run
        result.verdicts.append(judge(result.baseline, run, failing))


async def _refine(
    inputs: RepairInputs,
    sandbox: Sandbox,
    refine: Refine,
    result: Repair,
    failing: list[str],
    limits: Limits,
    judge: Judge,
) -> None:
    """One more round: the best unproven candidate gets its verdict and its sandbox output back."""
    tried = [v for v in result.verdicts if not v.tampering and v.candidate_id in result.runs]
    if not tried:
        return
    best = min(tried, key=lambda v: (len(v.regressions), len(v.still_failing), -len(v.fixed)))
    candidate = result.candidate(best.candidate_id)
    if candidate is None:
        return
    run = result.runs[best.candidate_id]
    feedback = f"{best.reason}\n\n{run.log_tail or run.log_head}".strip()
    refined = await refine(result.context, inputs.task, candidate, feedback)
    result.refined = True
    if refined is None:
        return
    result.candidates.append(refined)
    result.usage.add(refined.usage)
    patches = sendable([refined])
    if patches:
        _, runs = await _validate(inputs, sandbox, patches, failing, limits)
        _record(result, runs, failing, judge)
