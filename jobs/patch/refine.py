"""The refinement round: when no candidate was proven, one more attempt starts from the best candidate,
already applied, with the sandbox's new failure output in front of the model. Same budget, same tools,
same guard and integrity verdicts; the refined diff is the whole patch against the checkout.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobs.patch.agent import Engine, run_attempt
from jobs.patch.candidates import DEFAULT_POLICY, Attempted, judge, merge
from jobs.patch.context import Candidate, Context
from jobs.patch.copies import apply_diff, copy_checkout, diff_key, take_diff
from jobs.patch.prompts import Task, build_first_message, fence, render
from jobs.patch.tools import Workspace
from sandbox_runner.patchguard import GuardPolicy


def build_refine_message(context: Context, task: Task, best: Candidate, feedback: str) -> dict[str, Any]:
    """The first turn of a refinement: the usual context and task, then the earlier patch and what failed."""
    message = build_first_message(context, task, best.strategy.split(", ")[0])
    second = render(
        "refine",
        diff=fence("your earlier patch", best.diff),
        feedback=fence("sandbox output after the patch", feedback),
    )
    content = [*message["content"], {"type": "text", "text": second}]
    return {"role": "user", "content": content}


async def refine(
    *,
    engine: Engine,
    checkout: Path,
    scratch: Path,
    context: Context,
    task: Task,
    best: Candidate,
    feedback: str,
    policy: GuardPolicy = DEFAULT_POLICY,
) -> Candidate:
    """One refinement attempt from `best` (a submitted, accepted candidate) and the sandbox's `feedback`."""
    where = scratch / f"refine-{best.id}"
    baseline = await asyncio.to_thread(copy_checkout, checkout, where)
    await asyncio.to_thread(apply_diff, where, best.diff)
    result = await run_attempt(engine, Workspace(where), build_refine_message(context, task, best, feedback))
    diff = await asyncio.to_thread(take_diff, where, baseline)
    (candidate,) = merge([Attempted(0, best.strategy, result, diff)])
    if candidate.outcome == "submitted" and diff_key(diff) == diff_key(best.diff):
        candidate = replace(candidate, outcome="no_change", detail="the refinement changed nothing")
    failing = task.report.failing_tests if task.report is not None else []
    judged = judge(candidate, failing, policy, str(checkout))
    return replace(judged, id=f"{best.id}-refined", strategy=f"{best.strategy}, refined")
