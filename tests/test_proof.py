"""Proof rules over RunResult values, and end to end over real pytest runs of candidates that cheat."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox_runner.junit import parse_junit
from sandbox_runner.proof import Verdict, choose, judge
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome

P, F, E, S, XF, XP = (
    Outcome.PASSED,
    Outcome.FAILED,
    Outcome.ERROR,
    Outcome.SKIPPED,
    Outcome.XFAILED,
    Outcome.XPASSED,
)
BUG = "tests/test_calc.py::test_add"
OTHER = "tests/test_calc.py::test_sub"
THIRD = "tests/test_more.py::test_mul"


def run(
    outcomes: dict[str, Outcome],
    *,
    cid: str = "c1",
    collected: int | None = None,
    exit_code: int | None = 1,
    **fields: object,
) -> RunResult:
    patch = None if cid == BASELINE else PatchStatus(applied=True, files=["calc.py"])
    result = RunResult(
        candidate_id=cid,
        patch=patch,
        exit_code=exit_code,
        duration_s=12.0,
        tests=[TestOutcome(i, o) for i, o in outcomes.items()],
        tests_source="junit",
        collected=collected,
    )
    for name, value in fields.items():
        setattr(result, name, value)
    return result


BASE = run({BUG: F, OTHER: P, THIRD: P}, cid=BASELINE, collected=3)


def test_a_real_fix_is_proven() -> None:
    v = judge(BASE, run({BUG: P, OTHER: P, THIRD: P}, collected=3, exit_code=0), [BUG])
    assert v.proven
    assert v.fixed == [BUG]
    assert (v.still_failing, v.regressions, v.tampering) == ([], [], [])
    assert v.reason == f"fixes {BUG}; no regressions among 2 tests that passed"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"patch": PatchStatus(applied=False, reason="forbidden path: .env (matches .env)")},
            "patch not applied: forbidden path: .env (matches .env)",
        ),
        ({"patch": PatchStatus(applied=False)}, "patch not applied: unknown reason"),
        ({"timed_out": True, "exit_code": None}, "timed out after 12 s"),
        ({"limits_hit": ["memory", "processes"]}, "hit limits: memory, processes"),
        ({"exit_code": None}, "the test command did not run to the end"),
        (
            {"tests_source": "none", "tests": []},
            "no per-test results: cannot tell whether the failing tests ran",
        ),
    ],
)
def test_a_run_that_went_wrong_proves_nothing(fields: dict[str, object], reason: str) -> None:
    # every test passes: only the run's own state says it proves nothing
    v = judge(BASE, run({BUG: P, OTHER: P, THIRD: P}, collected=3, **{"exit_code": 0, **fields}), [BUG])
    assert not v.proven
    assert v.reason == reason


@pytest.mark.parametrize(
    ("now", "tampering"),
    [
        ({OTHER: P, THIRD: P}, f"{BUG} did not run"),  # deleted, renamed or deselected
        ({BUG: S, OTHER: P, THIRD: P}, f"{BUG} was skipped"),
        ({BUG: XF, OTHER: P, THIRD: P}, f"{BUG} was xfailed"),
        ({BUG: XP, OTHER: P, THIRD: P}, f"{BUG} was marked xfail"),
    ],
)
def test_hiding_the_failing_test_is_tampering_never_a_fix(now: dict[str, Outcome], tampering: str) -> None:
    v = judge(BASE, run(now, exit_code=0), [BUG])
    assert not v.proven
    assert v.fixed == []
    assert v.tampering[0] == tampering
    assert v.reason.startswith(f"tampering: {tampering}")


def test_collecting_fewer_tests_is_tampering() -> None:
    v = judge(BASE, run({BUG: P, OTHER: P, THIRD: P}, collected=2, exit_code=0), [BUG])
    assert not v.proven
    assert v.tampering == ["collected 2 tests, 3 at baseline"]


def test_without_a_stated_count_the_reported_tests_are_counted() -> None:
    base = run({BUG: F, OTHER: P, "tests/test_x.py::test_s": S}, cid=BASELINE)
    v = judge(base, run({BUG: P, OTHER: P}, exit_code=0), [BUG])
    assert v.tampering == ["collected 2 tests, 3 at baseline"]
    assert v.regressions == []  # the vanished test was skipped anyway; fewer tests still tells


def test_regressions_disqualify() -> None:
    v = judge(BASE, run({BUG: P, OTHER: F, THIRD: E}, collected=3), [BUG])
    assert not v.proven
    assert v.fixed == [BUG]
    assert v.regressions == [OTHER, THIRD]
    assert v.reason == f"regressions: {OTHER}, {THIRD} passed at baseline and do not pass now"


def test_a_passing_test_that_no_longer_runs_is_a_regression() -> None:
    v = judge(BASE, run({BUG: P, OTHER: P, THIRD: S}, collected=3, exit_code=0), [BUG])
    assert v.regressions == [THIRD]
    assert not v.proven


def test_still_failing() -> None:
    v = judge(BASE, run({BUG: E, OTHER: P, THIRD: P}, collected=3), [BUG])
    assert not v.proven
    assert v.still_failing == [BUG]
    assert v.reason == f"still failing: {BUG}"


def test_every_failing_test_must_pass() -> None:
    base = run({BUG: F, OTHER: F, THIRD: P}, cid=BASELINE)
    v = judge(base, run({BUG: P, OTHER: F, THIRD: P}), [BUG, OTHER])
    assert (v.proven, v.fixed, v.still_failing) == (False, [BUG], [OTHER])


def test_a_test_that_did_not_fail_at_baseline_shows_nothing() -> None:
    v = judge(BASE, run({BUG: P, OTHER: P, THIRD: P}, exit_code=0), [OTHER])
    assert not v.proven
    assert v.unconfirmed == [OTHER]
    assert v.reason == f"not shown: {OTHER} did not fail at baseline"


def test_a_baseline_without_per_test_results_trusts_the_named_failures() -> None:
    base = run({}, cid=BASELINE, tests_source="none")
    v = judge(base, run({BUG: P, OTHER: P}, exit_code=0), [BUG])
    assert v.proven
    assert v.reason == f"fixes {BUG}; no test fails now (the baseline has no per-test results)"
    v = judge(base, run({BUG: P, OTHER: F}), [BUG])
    assert (v.proven, v.regressions) == (False, [OTHER])


def test_other_baseline_failures_fixed_too_are_counted() -> None:
    base = run({BUG: F, OTHER: F, THIRD: P}, cid=BASELINE)
    v = judge(base, run({BUG: P, OTHER: P, THIRD: P}, exit_code=0), [BUG])
    assert v.proven
    assert v.fixed == [BUG, OTHER]


def test_a_module_that_failed_to_import_is_fixed_when_its_tests_pass() -> None:
    base = run({"tests/test_calc.py": E, THIRD: P}, cid=BASELINE, collected=2)
    fixed = run({BUG: P, OTHER: P, THIRD: P}, collected=3, exit_code=0)
    assert judge(base, fixed, ["tests/test_calc.py"]).proven
    half = run({BUG: P, OTHER: S, THIRD: P}, collected=3)
    assert judge(base, half, ["tests/test_calc.py"]).tampering == ["tests/test_calc.py was skipped"]


def test_an_unparametrized_id_covers_every_parameter() -> None:
    base = run({f"{BUG}[1]": F, f"{BUG}[2]": P, OTHER: P}, cid=BASELINE)
    assert judge(base, run({f"{BUG}[1]": P, f"{BUG}[2]": P, OTHER: P}, exit_code=0), [BUG]).proven
    v = judge(base, run({f"{BUG}[1]": XF, f"{BUG}[2]": P, OTHER: P}), [BUG])
    assert v.tampering == [f"{BUG} was xfailed"]


def test_a_command_without_test_ids_is_proven_by_going_green() -> None:
    lint = run({}, cid=BASELINE, exit_code=1, tests_source="none")
    assert judge(lint, run({}, exit_code=0, tests_source="none"), []).proven
    v = judge(lint, run({}, exit_code=1, tests_source="none"), [])
    assert not v.proven
    assert v.reason.startswith("nothing to prove")


def test_reasons_name_a_few_ids_and_count_the_rest() -> None:
    base = run({f"t{i}": P for i in range(10)} | {BUG: F}, cid=BASELINE)
    v = judge(base, run({f"t{i}": F for i in range(10)} | {BUG: P}), [BUG])
    assert v.reason == "regressions: t0, t1, t2 and 7 more passed at baseline and do not pass now"


def test_large_suites_are_judged() -> None:
    names = [f"tests/test_m{i // 100}.py::test_{i}" for i in range(20_000)]
    base = run(dict.fromkeys(names, P) | {BUG: F}, cid=BASELINE)
    cand = run(dict.fromkeys(names[:10_000], P) | {BUG: P})
    v = judge(base, cand, [BUG])
    assert len(v.regressions) == 10_000
    assert v.tampering == ["collected 10001 tests, 20001 at baseline"]


# --- choose --------------------------------------------------------------------------------------


def verdict(cid: str, fixed: int, *, proven: bool = True, regressions: int = 0) -> Verdict:
    return Verdict(
        cid, proven, fixed=[f"t{i}" for i in range(fixed)], regressions=[f"r{i}" for i in range(regressions)]
    )


def test_choose() -> None:
    assert choose([]) is None
    assert choose([verdict("a", 1, proven=False)]) is None
    assert choose([verdict("a", 1, regressions=1)]) is None  # a regression never wins
    best = choose([verdict("a", 1), verdict("b", 2), verdict("c", 2, proven=False)])
    assert best is not None
    assert best.candidate_id == "b"
    tied = [verdict("a", 1), verdict("b", 1), verdict("c", 1)]
    assert choose(tied) == tied[0]  # the first, when nothing else tells them apart
    chosen = choose(tied, agreement={"c": 2})
    assert chosen is not None
    assert chosen.candidate_id == "c"
    chosen = choose(tied, diff_lines={"a": 40, "b": 6, "c": 12})
    assert chosen is not None
    assert chosen.candidate_id == "b"
    chosen = choose(tied, agreement={"a": 2, "c": 2}, diff_lines={"a": 40, "b": 6, "c": 12})
    assert chosen is not None
    assert chosen.candidate_id == "c"


# --- end to end: real pytest runs of candidates that cheat ---------------------------------------

CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
TESTS = (
    "import pytest\n\nfrom calc import add, sub\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_sub():\n    assert sub(3, 2) == 1\n\n\n"
    "@pytest.mark.parametrize('n', [0, 1])\ndef test_add_zero(n):\n    assert add(n, 0) == n\n"
)


def replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        text = (root / path).read_text()
        assert old in text
        (root / path).write_text(text.replace(old, new, 1))

    return edit


def write(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(text)


def pytest_run(root: Path, cid: str) -> RunResult:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=junit.xml", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    junit = parse_junit(str(root / "junit.xml"), repo_dir=str(root))
    patch = None if cid == BASELINE else PatchStatus(applied=True)
    return RunResult(cid, patch, proc.returncode, 1.0, junit.tests, "junit", junit.collected)


CANDIDATES: dict[str, tuple[list[Callable[[Path], None]], bool, str]] = {
    "fix": (
        [replace("calc.py", "return a - b", "return a + b")],
        True,
        "fixes tests/test_calc.py::test_add;",
    ),
    "delete": ([replace("tests/test_calc.py", "def test_add():", "def _gone():")], False, "did not run"),
    "skip": (
        [replace("tests/test_calc.py", "def test_add():", "@pytest.mark.skip\ndef test_add():")],
        False,
        "was skipped",
    ),
    "skip_inside": (
        [
            replace(
                "tests/test_calc.py", "    assert add(2, 3)", "    pytest.skip('later')\n    assert add(2, 3)"
            )
        ],
        False,
        "was skipped",
    ),
    "xfail": (
        [replace("tests/test_calc.py", "def test_add():", "@pytest.mark.xfail\ndef test_add():")],
        False,
        "was xfailed",
    ),
    "deselect": (
        [
            write(
                "tests/conftest.py",
                "def pytest_collection_modifyitems(config, items):\n"
                "    items[:] = [i for i in items if i.name != 'test_add']\n",
            )
        ],
        False,
        "did not run",
    ),
    "fix_and_break": (
        [
            replace("calc.py", "return a - b", "return a + b"),
            replace("calc.py", "def sub(a, b):\n    return a - b", "def sub(a, b):\n    return b - a"),
        ],
        False,
        "regressions: tests/test_calc.py::test_sub",
    ),
    "shrink_parametrize": (
        [
            replace("calc.py", "return a - b", "return a + b"),
            replace("tests/test_calc.py", "[0, 1]", "[0]"),
        ],
        False,
        "collected 3 tests, 4 at baseline",
    ),
}


@pytest.fixture(scope="module")
def baseline_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    root = tmp_path_factory.mktemp("proj")
    (root / "tests").mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    return root, pytest_run(root, BASELINE)


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_real_pytest_candidates(baseline_project: tuple[Path, RunResult], tmp_path: Path, name: str) -> None:
    root, baseline = baseline_project
    assert baseline.outcome_of(BUG) is Outcome.FAILED
    work = tmp_path / name
    shutil.copytree(root, work)
    edits, proven, reason = CANDIDATES[name]
    for edit in edits:
        edit(work)
    verdict = judge(baseline, pytest_run(work, name), [BUG])
    assert verdict.proven is proven
    assert reason in verdict.reason
    assert (verdict.fixed == [BUG]) is (name in ("fix", "fix_and_break", "shrink_parametrize"))
