"""k attempts in parallel, one strategy each, each in its own copy of the checkout; their diffs taken
with `git diff`, de-duplicated (identical diffs count as agreement) and checked by the same guard the
sandbox applies plus the test-integrity rules.

The first attempt's first call goes out alone: it writes the prompt cache (tools, system, repository
context are byte-identical across attempts), and the others start once it has answered and read it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobs.patch.agent import AttemptResult, Engine, run_attempt
from jobs.patch.context import Candidate, Context, Usage
from jobs.patch.copies import copy_checkout, diff_key, take_diff
from jobs.patch.integrity import check_integrity
from jobs.patch.prompts import STRATEGIES, Task, build_first_message
from jobs.patch.tools import Workspace
from sandbox_runner.patchguard import GuardPolicy, check_patch

DEFAULT_POLICY = GuardPolicy()


@dataclass(frozen=True)
class Attempted:
    index: int
    strategy: str
    result: AttemptResult
    diff: str


@dataclass
class Proposal:
    candidates: list[Candidate]  # submitted and accepted first, most agreed first
    usage: Usage = field(default_factory=Usage)


async def _attempt(
    engine: Engine, checkout: Path, scratch: Path, index: int, first: dict[str, Any], warm: asyncio.Event
) -> tuple[AttemptResult, str]:
    where = scratch / f"attempt-{index + 1}"
    baseline = await asyncio.to_thread(copy_checkout, checkout, where)
    if index > 0:
        await warm.wait()
    result = await run_attempt(
        engine, Workspace(where), first, on_first_call=warm.set if index == 0 else None
    )
    return result, await asyncio.to_thread(take_diff, where, baseline)


async def propose(
    *,
    engine: Engine,
    checkout: Path,
    scratch: Path,
    context: Context,
    task: Task,
    k: int,
    policy: GuardPolicy = DEFAULT_POLICY,
) -> Proposal:
    """Run k attempts and return their candidates, judged."""
    warm = asyncio.Event()
    strategies = [STRATEGIES[i % len(STRATEGIES)] for i in range(k)]
    async with asyncio.TaskGroup() as group:  # one failing attempt cancels the rest, none waits forever
        tasks = [
            group.create_task(
                _attempt(engine, checkout, scratch, i, build_first_message(context, task, s), warm)
            )
            for i, s in enumerate(strategies)
        ]
    runs = [t.result() for t in tasks]
    attempted = [Attempted(i, s, r, d) for i, (s, (r, d)) in enumerate(zip(strategies, runs, strict=True))]
    failing = task.report.failing_tests if task.report is not None else []
    candidates = [judge(c, failing, policy, str(checkout)) for c in merge(attempted)]
    usage = Usage()
    for a in attempted:
        usage.add(a.result.usage)
    return Proposal(sorted(candidates, key=_rank), usage)


def _rank(c: Candidate) -> tuple[bool, int, str]:
    return (c.outcome != "submitted", -c.agreement, c.id)


def merge(attempted: list[Attempted]) -> list[Candidate]:
    """One Candidate per distinct submitted diff (agreement = attempts that produced it), plus one per
    attempt that ended without a submitted change. Pure."""
    groups: dict[str, list[Attempted]] = {}
    alone: list[Attempted] = []
    for a in attempted:
        if a.result.ending.outcome == "submitted" and a.diff:
            groups.setdefault(diff_key(a.diff), []).append(a)
        else:
            alone.append(a)
    out = [_candidate(group) for group in groups.values()]
    return out + [_candidate([a]) for a in alone]


def _candidate(group: list[Attempted]) -> Candidate:
    first = group[0]
    ending = first.result.ending
    usage = Usage()
    for a in group:
        usage.add(a.result.usage)
    outcome, detail = ending.outcome, ending.detail
    if outcome == "submitted" and not first.diff:
        outcome, detail = "no_change", "diagnosis submitted without an edit"
    strategies = ", ".join(dict.fromkeys(a.strategy for a in group))
    return Candidate(
        id=f"c{first.index + 1}",
        strategy=strategies,
        diff=first.diff,
        diagnosis=ending.diagnosis,
        outcome=outcome,
        usage=usage,
        steps=sum(a.result.ending.steps for a in group),
        agreement=len(group),
        detail=detail,
    )


def judge(candidate: Candidate, failing_tests: list[str], policy: GuardPolicy, repo_dir: str) -> Candidate:
    """The candidate with the guard's and the test-integrity rules' verdict recorded on it. Pure."""
    if candidate.outcome != "submitted":
        return candidate
    guard = check_patch(candidate.diff, policy=policy, repo_dir=repo_dir)
    if guard:
        return replace(candidate, outcome="guard_rejected", rejected_because=guard)
    wrong = candidate.diagnosis is not None and candidate.diagnosis.test_is_wrong
    integrity = check_integrity(candidate.diff, failing_tests, test_is_wrong=wrong)
    notes = "; ".join(integrity.notes)
    detail = f"{candidate.detail}; {notes}" if notes else candidate.detail
    if integrity.rejections:
        return replace(
            candidate,
            outcome="integrity_rejected",
            rejected_because=list(integrity.rejections),
            detail=detail,
        )
    return replace(candidate, detail=detail)
