"""Reproduce and classify: the decision over runs (pure), then `reproduce` driving a real LocalSandbox."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jobs.reproduce import Verdict, decide_reproduction, failed_tests, reproduce
from jobs.sandbox.base import Limits, SetupFailed
from jobs.sandbox.local import LocalSandbox
from sandbox_runner.report import FailureReport
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
def test_verdicts(
    runs: list[RunResult], base: RunResult | None, verdict: Verdict, failing: list[str]
) -> None:
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


# -- reproduce() on real repositories, through a real LocalSandbox ------------------------------

ADD_OK = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"
TEST_ADD = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
COMMAND = "python -m pytest -q -p no:cacheprovider"
LIMITS = Limits(timeout_s=120, wait_s=100)


def commit(root: Path, files: dict[str, str]) -> str:
    for path, text in files.items():
        (root / path).write_text(text)
    for args in (["add", "."], ["-c", "user.name=t", "-c", "user.email=t@e.com", "commit", "-q", "-m", "c"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True)
    return done.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def report(*tests: str) -> FailureReport:
    return FailureReport(
        source={"kind": "log"}, failure_class="test", fixable=True, failing_tests=list(tests)
    )


async def test_a_pr_that_broke_the_test_is_reproduced(repo: Path) -> None:
    base = commit(repo, {"calc.py": ADD_OK, "test_calc.py": TEST_ADD})
    head = commit(repo, {"calc.py": ADD_BUG})
    got = await reproduce(
        LocalSandbox(), report("test_calc.py::test_add"), repo=str(repo), sha=head, base_sha=base,
        command=COMMAND, limits=LIMITS,
    )  # fmt: skip
    assert (got.verdict, got.failing, len(got.runs)) == (Verdict.REPRODUCED, ["test_calc.py::test_add"], 1)
    assert got.base_run is not None
    assert got.base_run.outcome_of("test_calc.py::test_add") is Outcome.PASSED
    assert got.to_json()["runs"][0]["tests"][0]["outcome"] == "failed"


async def test_a_base_that_was_already_broken(repo: Path) -> None:
    base = commit(repo, {"calc.py": ADD_BUG, "test_calc.py": TEST_ADD})
    head = commit(repo, {"README.md": "docs only\n"})
    got = await reproduce(
        LocalSandbox(), report("test_calc.py::test_add"), repo=str(repo), sha=head, base_sha=base,
        command=COMMAND, limits=LIMITS,
    )  # fmt: skip
    assert got.verdict is Verdict.BROKEN_BASE


async def test_a_test_that_fails_on_its_second_run_is_flaky(repo: Path, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    flaky = f"""\
from pathlib import Path

def test_sometimes():
    counter = Path({str(counter)!r})
    n = int(counter.read_text()) + 1
    counter.write_text(str(n))
    assert n != 2
"""
    head = commit(repo, {"test_flaky.py": flaky})
    got = await reproduce(
        LocalSandbox(), report("test_flaky.py::test_sometimes"), repo=str(repo), sha=head,
        command=COMMAND, reruns=3, limits=LIMITS,
    )  # fmt: skip
    assert got.verdict is Verdict.FLAKY
    assert [r.exit_code == 0 for r in got.runs] == [True, False]  # stopped at the first failure
    assert counter.read_text() == "2"


async def test_a_failure_the_sandbox_never_sees_cannot_be_reproduced(repo: Path) -> None:
    only_on_ci = "import os\n\n\ndef test_env():\n    assert 'CI_ONLY_SETTING' not in os.environ\n"
    head = commit(repo, {"test_env.py": only_on_ci})
    got = await reproduce(
        LocalSandbox(), report("test_env.py::test_env"), repo=str(repo), sha=head,
        command=COMMAND, reruns=1, limits=LIMITS,
    )  # fmt: skip
    assert got.verdict is Verdict.CANNOT_REPRODUCE
    assert len(got.runs) == 2  # the first run and one rerun
    assert got.base_run is None


async def test_a_failing_setup_is_an_outcome_not_a_verdict(repo: Path) -> None:
    head = commit(repo, {"calc.py": ADD_BUG, "test_calc.py": TEST_ADD})
    with pytest.raises(SetupFailed) as err:
        await reproduce(
            LocalSandbox(), report("test_calc.py::test_add"), repo=str(repo), sha=head,
            setup="echo 'no such package: fooo' >&2; exit 3", command=COMMAND, limits=LIMITS,
        )  # fmt: skip
    assert "exit code 3" in str(err.value)
    assert "setup:" in err.value.render()


async def test_the_report_command_is_the_default(repo: Path) -> None:
    head = commit(repo, {"calc.py": ADD_BUG, "test_calc.py": TEST_ADD})
    failure = report("test_calc.py::test_add")
    with pytest.raises(ValueError, match="no test command"):
        await reproduce(LocalSandbox(), failure, repo=str(repo), sha=head)
    failure.reproduction_command = COMMAND + " test_calc.py::test_add"
    got = await reproduce(LocalSandbox(), failure, repo=str(repo), sha=head, limits=LIMITS)
    assert got.verdict is Verdict.REPRODUCED


async def test_the_reproduction_records_what_the_failing_test_ran(repo: Path) -> None:
    """The first run is traced, so localization gets run-time evidence (jobs/patch/spectrum.py); the base
    run, compared only by outcome, is not."""
    base = commit(repo, {"calc.py": ADD_OK, "test_calc.py": TEST_ADD})
    head = commit(repo, {"calc.py": ADD_BUG})
    got = await reproduce(
        LocalSandbox(), report("test_calc.py::test_add"), repo=str(repo), sha=head, base_sha=base,
        command=COMMAND, limits=LIMITS,
    )  # fmt: skip
    coverage = got.runs[0].coverage
    assert coverage is not None
    assert "calc.py" in json.dumps(coverage)  # the function under test is among what the test ran
    assert got.base_run is not None
    assert got.base_run.coverage is None
