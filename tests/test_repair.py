"""The repair core with the real LocalSandbox on a small project: proof, tampering, refinement.

The patch engine's steps are passed in as callables (the engine's own loop is tested against the
fake Anthropic server in tests/test_patch_*.py); here they hand over fixed candidates, so what is
under test is what the core does with them: which it sends to the sandbox and how it judges them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobs.patch.candidates import Proposal
from jobs.patch.context import Candidate, Context, Diagnosis, Usage
from jobs.patch.prompts import Task
from jobs.repair import RepairInputs, repair, sendable
from jobs.sandbox.base import Limits
from jobs.sandbox.local import LocalSandbox
from sandbox_runner.report import build_report
from sandbox_runner.result import RunResult

CALC = "def add(a, b):\n    return a - b\n"
TEST = """\
from calc import add


def test_add():
    assert add(1, 2) == 3


def test_zero():
    assert add(0, 0) == 0
"""
FIX = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
WRONG = FIX.replace("a + b", "a * b")
SKIP = "\n".join(
    [
        "--- a/test_calc.py",
        "+++ b/test_calc.py",
        "@@ -1,5 +1,7 @@",
        "+import pytest",
        " from calc import add",
        " ",
        " ",
        "+@pytest.mark.skip",
        " def test_add():",
        "     assert add(1, 2) == 3",
        "",
    ]
)
COMMAND = "python -m pytest -q -p no:cacheprovider"
LIMITS = Limits(timeout_s=120, wait_s=100)


def git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str, Task]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "calc")
    run = subprocess.run(
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, capture_output=True
    )
    return root, git(root, "rev-parse", "HEAD"), Task(report=build_report(run.stdout, source="log"))


def cand(cid: str, diff: str, outcome: str = "submitted", rejected: list[str] | None = None) -> Candidate:
    d = Diagnosis("add subtracts", "calc.py:2", "addition adds", "nothing known")
    return Candidate(
        cid,
        "minimal",
        diff,
        d,
        outcome,
        usage=Usage(input_tokens=10, dollars=0.01),
        rejected_because=rejected or [],
    )


def inputs(project: tuple[Path, str, Task]) -> RepairInputs:
    root, sha, task = project
    return RepairInputs(checkout=root, source=str(root), sha=sha, command=COMMAND, task=task)


def test_only_submitted_unrejected_diffs_go_to_the_sandbox() -> None:
    cands = [
        cand("c1", FIX),
        cand("c2", ""),
        cand("c3", FIX, "budget_exhausted"),
        cand("c4", FIX, rejected=["x"]),
    ]
    assert sendable(cands) == {"c1": FIX}


async def test_the_real_fix_is_proven_and_tampering_is_not(
    project: tuple[Path, str, Task], tmp_path: Path
) -> None:
    phases: list[str] = []
    seen: list[Context] = []

    async def propose(context: Context, task: Task) -> Proposal:
        seen.append(context)
        return Proposal([cand("c1", FIX), cand("c2", SKIP)], Usage(input_tokens=20, dollars=0.02))

    async def on_phase(name: str) -> None:
        phases.append(name)

    result = await repair(
        inputs(project),
        sandbox=LocalSandbox(cache=tmp_path / "cache"),
        propose=propose,
        limits=LIMITS,
        on_phase=on_phase,
    )

    assert phases == ["localize", "propose", "validate"]
    assert seen[0].locations, "the context was built from the report"
    assert seen[0].locations[0].file in ("calc.py", "test_calc.py")
    verdicts = {v.candidate_id: v for v in result.verdicts}
    assert verdicts["c1"].proven
    assert verdicts["c1"].fixed == ["test_calc.py::test_add"]
    assert not verdicts["c2"].proven
    assert verdicts["c2"].tampering
    best = result.best()
    assert best is not None
    assert best.candidate_id == "c1"
    assert not result.refined


async def test_one_refinement_round_when_nothing_is_proven(
    project: tuple[Path, str, Task], tmp_path: Path
) -> None:
    fed_back: list[tuple[str, str]] = []

    async def propose(context: Context, task: Task) -> Proposal:
        return Proposal([cand("c1", WRONG)], Usage())

    async def refine(context: Context, task: Task, candidate: Candidate, feedback: str) -> Candidate | None:
        fed_back.append((candidate.id, feedback))
        return cand("c1r", FIX)

    result = await repair(
        inputs(project),
        sandbox=LocalSandbox(cache=tmp_path / "cache"),
        propose=propose,
        refine=refine,
        limits=LIMITS,
    )

    assert result.refined
    (fed,) = fed_back
    assert fed[0] == "c1"
    assert fed[1].startswith("still failing: test_calc.py::test_add")
    assert "assert" in fed[1], "the refinement sees the sandbox's output"
    best = result.best()
    assert best is not None
    assert best.candidate_id == "c1r"
    assert [c.id for c in result.candidates] == ["c1", "c1r"]


async def test_nothing_submitted_means_no_sandbox_run(project: tuple[Path, str, Task]) -> None:
    class Refuses:
        async def run(self, *args: object, **kwargs: object) -> list[RunResult]:
            raise AssertionError("the sandbox must not run")

    async def propose(context: Context, task: Task) -> Proposal:
        return Proposal([cand("c1", "", "budget_exhausted")], Usage())

    result = await repair(inputs(project), sandbox=Refuses(), propose=propose)  # type: ignore[arg-type]
    assert (result.baseline, result.verdicts, result.best()) == (None, [], None)
