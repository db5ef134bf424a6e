"""Reproduce and classify: the decision over runs (pure), then `reproduce` driving a real LocalSandbox."""

from __future__ import annotations

import pytest

from jobs.reproduce import Verdict, decide_reproduction, failed_tests
from sandbox_runner.result import BASELINE, Outcome, RunResult, TestOutcome

T1, T2 = "tests/test_calc.py::test_add", "tests/test_calc.py::test_sub"


def run(*outcomes: tuple[str, Outcome], exit_code: int | None = 1, timed_out: bool = False) -> RunResult:
    tests = [TestOutcome(t, o) for t, o in outcomes]
    return RunResult(BASELINE, None, exit_code, 1.0, tests=tests, timed_out=timed_out)


FAIL = run((T1, Outcome.FAILED), (T2, Outcome.PASSED))
PASS = run((T1, Outcome.PASSED), (T2, Outcome.PASSED), exit_code=0)
CRASH = run(exit_code=2)  # collection error: no test ran
HUNG = run((T2, Outcome.PASSED), exit_code=None, timed_out=True)


@pytest.mark.parametrize(
    ("runs", "base", "verdict", "failing"),
    [
        ([FAIL], None, Verdict.REPRODUCED, [T1]),
        ([FAIL], PASS, Verdict.REPRODUCED, [T1]),  # the PR broke it
        ([FAIL], FAIL, Verdict.BROKEN_BASE, [T1]),
        ([FAIL], CRASH, Verdict.BROKEN_BASE, [T1]),  # the base does not even collect
        ([CRASH], None, Verdict.REPRODUCED, []),  # failed as a whole
        ([HUNG], None, Verdict.REPRODUCED, []),  # a hang reproduces a hang
        ([PASS, PASS, FAIL], None, Verdict.FLAKY, [T1]),
        ([PASS, PASS, PASS, PASS], None, Verdict.CANNOT_REPRODUCE, []),
        ([PASS, CRASH], None, Verdict.FLAKY, []),
    ],
)
def test_verdicts(runs: list[RunResult], base: RunResult | None, verdict: Verdict, failing: list[str]) -> None:
    got, reason, names = decide_reproduction(runs, base, [T1])
    assert (got, names) == (verdict, failing)
    assert reason


def test_reasons_say_what_happened() -> None:
    assert decide_reproduction([FAIL], FAIL, [T1])[1].startswith(f"{T1} fails at the base commit too")
    assert decide_reproduction([HUNG], None, [T1])[1] == "the test command timed out in the sandbox as in CI"
    assert decide_reproduction([PASS, FAIL], None, [T1])[1] == "failed in 1 of 2 runs; passed in the others"
    assert "passed in all 3 runs" in decide_reproduction([PASS] * 3, None, [T1])[1]


def test_a_failing_test_that_did_not_run_is_not_a_pass_but_not_a_reproduction_either() -> None:
    other = run((T2, Outcome.PASSED), exit_code=0)
    verdict, reason, _ = decide_reproduction([other], None, [T1])
    assert verdict is Verdict.CANNOT_REPRODUCE
    assert "did not run" in reason


def test_without_named_tests_the_exit_code_decides() -> None:
    assert decide_reproduction([CRASH], None, [])[0] is Verdict.REPRODUCED
    assert decide_reproduction([PASS], None, [])[0] is Verdict.CANNOT_REPRODUCE


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (FAIL, [T1]),
        (run((T1, Outcome.ERROR)), [T1]),  # an error in set-up is a failure of that test
        (PASS, []),
        (run((T1, Outcome.SKIPPED), exit_code=0), []),  # skipped is not failed (nor a fix: proof.py)
        (CRASH, None),
        (HUNG, None),
    ],
)
def test_failed_tests(result: RunResult, expected: list[str] | None) -> None:
    assert failed_tests(result, [T1]) == expected
