"""From phase results to what is published: outcome choice, proof table, candidate lines."""

from __future__ import annotations

from jobs.assemble import Kind, build_facts, decide_publication, proof_rows, suite_summary
from jobs.patch.context import Candidate, Diagnosis, Usage
from jobs.publish.body import render_pr_body
from jobs.reproduce import Reproduction
from jobs.reproduce import Verdict as Repro
from sandbox_runner.failure import FailureClass, Frame
from sandbox_runner.proof import judge
from sandbox_runner.report import FailureReport
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome

FAILING = "tests/test_stats.py::test_mean_empty"
OTHER = "tests/test_stats.py::test_mean"


def run(
    cid: str, failing_outcome: Outcome, *, other: Outcome = Outcome.PASSED, applied: bool = True
) -> RunResult:
    return RunResult(
        candidate_id=cid,
        patch=None if cid == BASELINE else PatchStatus(applied, None if applied else "forbidden path: x"),
        exit_code=0 if failing_outcome is Outcome.PASSED and other is Outcome.PASSED else 1,
        duration_s=1.0,
        tests=[TestOutcome(FAILING, failing_outcome), TestOutcome(OTHER, other)],
        tests_source="junit",
        collected=2,
    )


def candidate(
    cid: str, diff: str = "+a\n", agreement: int = 1, rejected: list[str] | None = None
) -> Candidate:
    d = Diagnosis(f"cause {cid}", "src/stats.py:3", "why", "nothing known")
    return Candidate(
        cid, f"strategy {cid}", diff, d, "submitted", agreement=agreement, rejected_because=rejected or []
    )


REPORT = FailureReport(
    source={"kind": "check_run"},
    failure_class=FailureClass.TEST_FAILURE.value,
    fixable=True,
    failing_tests=[FAILING],
    exception_type="ZeroDivisionError",
    message="division by zero",
    frames=[Frame("tests/test_stats.py", 9, "test_mean_empty", True), Frame("src/stats.py", 3, "mean", True)],
    fingerprint="v1:0123456789abcdef",
)
BASE = run(BASELINE, Outcome.FAILED)
REPRODUCED = Reproduction(Repro.REPRODUCED, "failed in the sandbox as in CI", [FAILING], [BASE])


def test_a_proven_candidate_becomes_a_pr_and_a_fork_gets_suggestions() -> None:
    verdicts = [judge(BASE, run("c1", Outcome.PASSED), [FAILING])]
    assert decide_publication(REPRODUCED, verdicts).kind is Kind.PR
    assert decide_publication(REPRODUCED, verdicts, fork=True).kind is Kind.SUGGEST


def test_no_proof_never_becomes_a_pr() -> None:
    verdicts = [
        judge(BASE, run("c1", Outcome.FAILED), [FAILING]),
        judge(BASE, run("c2", Outcome.SKIPPED), [FAILING]),  # tampering
        judge(BASE, run("c3", Outcome.PASSED, other=Outcome.FAILED), [FAILING]),  # a regression
        judge(BASE, run("c4", Outcome.PASSED, applied=False), [FAILING]),
    ]
    publication = decide_publication(REPRODUCED, verdicts)
    assert publication.kind is Kind.UNPROVEN
    assert "c2: tampering" in publication.reason
    assert decide_publication(REPRODUCED, []).reason == "no candidate was submitted"


def test_reproduction_verdicts_come_first() -> None:
    verdicts = [judge(BASE, run("c1", Outcome.PASSED), [FAILING])]
    for repro, kind in [(Repro.FLAKY, Kind.FLAKY), (Repro.BROKEN_BASE, Kind.BROKEN_BASE)]:
        assert decide_publication(Reproduction(repro, "r", [], []), verdicts).kind is kind
    assert (
        decide_publication(Reproduction(Repro.CANNOT_REPRODUCE, "r", [], []), verdicts).kind
        is Kind.CANNOT_REPRODUCE
    )


def test_agreement_and_then_the_smaller_diff_break_ties() -> None:
    verdicts = [judge(BASE, run(c, Outcome.PASSED), [FAILING]) for c in ("big", "agreed", "small")]
    cands = [
        candidate("big", "+a\n+b\n+c\n"),
        candidate("agreed", "+a\n+b\n", agreement=2),
        candidate("small", "+a\n"),
    ]
    assert decide_publication(REPRODUCED, verdicts, cands).chosen.candidate_id == "agreed"  # type: ignore[union-attr]
    cands[1].agreement = 1
    assert decide_publication(REPRODUCED, verdicts, cands).chosen.candidate_id == "small"  # type: ignore[union-attr]


def test_the_facts_carry_the_proof_table_and_why_the_others_lost() -> None:
    chosen_run = run("c1", Outcome.PASSED)
    verdicts = [judge(BASE, chosen_run, [FAILING]), judge(BASE, run("c2", Outcome.SKIPPED), [FAILING])]
    cands = [
        candidate("c1"),
        candidate("c2"),
        candidate("c3", rejected=["forbidden path: .github/workflows/ci.yml"]),
    ]
    usage = Usage(input_tokens=1000, output_tokens=200, cache_read_input_tokens=5000, dollars=0.12)
    facts = build_facts(
        report=REPORT,
        job_id="check:1:abc:tests",
        run_url="https://github.com/o/r/actions/runs/1/job/2",
        base_sha="abc",
        chosen=cands[0],
        candidates=cands,
        verdicts=verdicts,
        baseline=BASE,
        chosen_run=chosen_run,
        usage=usage,
        minutes=2.0,
    )
    assert [(r.test, r.before, r.after) for r in facts.proof] == [(FAILING, "failed", "passed")]
    assert facts.regression_summary == "2 passed (baseline: 1 passed, 1 failed)"
    assert facts.root_cause == "cause c1"
    assert facts.tokens == 6200
    assert [(c.id, c.result) for c in facts.runners_up] == [
        ("c2", "not proven"),
        ("c3", "rejected before the sandbox"),
    ]
    assert facts.traceback[-1] == "ZeroDivisionError: division by zero"
    body = render_pr_body(facts)
    assert "| `tests/test_stats.py::test_mean_empty` | failed | passed |" in body


def test_outcomes_of_a_module_level_id_and_of_a_test_that_did_not_run() -> None:
    module_run = RunResult(
        "c1", None, 1, 1.0, [TestOutcome("tests/test_a.py::test_x[1]", Outcome.FAILED)], "junit", 1
    )
    assert proof_rows(module_run, module_run, ["tests/test_a.py::test_x", "tests/test_b.py"]) == [
        proof_rows(module_run, module_run, ["tests/test_a.py::test_x"])[0],
        proof_rows(module_run, module_run, ["tests/test_b.py"])[0],
    ]
    assert proof_rows(module_run, module_run, ["tests/test_b.py"])[0].after == "did not run"
    assert proof_rows(module_run, module_run, ["tests/test_a.py::test_x"])[0].after == "failed"
    assert suite_summary(RunResult("b", None, None, 0.0)) == "no per-test results"
