"""The refinement round: the best candidate applied in a fresh copy, the sandbox's output shown fenced,
one more attempt within the same job budget, judged like any candidate."""

from __future__ import annotations

from pathlib import Path

from jobs.patch.agent import Engine
from jobs.patch.candidates import propose
from jobs.patch.context import Candidate
from jobs.patch.prompts import Task
from jobs.patch.refine import refine
from tests.fakes.anthropic_messages import reply, tool_use
from tests.patch_support import (
    BUGGY,
    DIAGNOSIS,
    FIXED,
    anthropic_provider,
    context,
    engine,
    make_repo,
    report,
    served_anthropic,
)

HALF = "    return sum(values) / (len(values) + 0.5)"
FEEDBACK = "FAILED tests/test_stats.py::test_mean - assert 1.7142857142857142 == 2"


def edit(old: str, new: str) -> list[object]:
    return [
        reply(
            tool_use(
                "editor", {"command": "str_replace", "path": "calc/stats.py", "old_str": old, "new_str": new}
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    ]


async def propose_then_refine(
    eng: Engine, repo: Path, scratch: Path, task: Task
) -> tuple[Candidate, Candidate]:
    """One attempt (k=1), then the refinement round from it with FEEDBACK as the sandbox's output."""
    (best,) = (
        await propose(engine=eng, checkout=repo, scratch=scratch, context=context(), task=task, k=1)
    ).candidates
    refined = await refine(
        engine=eng, checkout=repo, scratch=scratch, context=context(), task=task, best=best, feedback=FEEDBACK
    )
    return best, refined


async def test_refinement_starts_from_the_best_candidate_and_sees_the_new_failure(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    task = Task(report=report())
    with served_anthropic() as fake:
        fake.state.script(*edit(BUGGY, HALF), *edit(HALF, FIXED))
        async with engine(anthropic_provider(fake.url)) as eng:
            best, refined = await propose_then_refine(eng, repo, tmp_path / "s", task)
            spent = eng.budget.spent.calls
    assert best.outcome == "submitted"
    assert f"+{HALF}\n" in best.diff
    assert refined.outcome == "submitted"
    assert refined.id == "c1-refined"
    assert refined.strategy == "innermost, refined"
    assert f"-{BUGGY}\n+{FIXED}\n" in refined.diff  # the whole patch against the checkout
    shown = fake.state.bodies[2]["messages"][0]["content"][2]["text"]
    assert "BEGIN UNTRUSTED DATA: your earlier patch" in shown
    assert f"+{HALF}" in shown
    assert "BEGIN UNTRUSTED DATA: sandbox output after the patch" in shown
    assert FEEDBACK in shown
    assert spent == 4  # one job budget for both rounds


async def test_a_refinement_that_changes_nothing_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    task = Task(report=report())
    with served_anthropic() as fake:
        fake.state.script(*edit(BUGGY, HALF), reply(tool_use("submit_diagnosis", DIAGNOSIS)))
        async with engine(anthropic_provider(fake.url)) as eng:
            _, refined = await propose_then_refine(eng, repo, tmp_path / "s", task)
    assert (refined.outcome, refined.detail) == ("no_change", "the refinement changed nothing")
