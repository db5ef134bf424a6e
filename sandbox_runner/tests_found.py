"""Which tests a run ran and how each ended: from JUnit XML when the run wrote it, else from the output.

Standard library only. The output is read once, from the capture (the spooled head, then the tail),
for pytest's `collected N items` and, when the run failed, for the FailureReport.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sandbox_runner.capture import OutputCapture
from sandbox_runner.junit import JUnitError, parse_junit
from sandbox_runner.report import build_report
from sandbox_runner.result import Outcome, TestOutcome
from sandbox_runner.testcmd import CollectedCounter

CONTRADICTED = "passed in the JUnit XML, failed in the output"
PARSE_HEAD_BYTES = 8 << 20  # of the output's head, read by the parsers (the tail is read too)


@dataclass
class TestsFound:
    __test__ = False  # not a pytest test class

    tests: list[TestOutcome] = field(default_factory=list)
    source: str = "none"  # "junit" | "parsed" | "none"
    collected: int | None = None
    report: dict[str, Any] | None = None


def tests_of(capture: OutputCapture, junit: Path | None, tree: Path, *, failed: bool) -> TestsFound:
    """The run's tests; its FailureReport when it failed. With JUnit XML, the output is read too:
    a test the XML calls passed and the output calls failed is recorded as failed (either can be
    forged by the code under test; a pass must survive both)."""
    counter = CollectedCounter()
    use_junit = junit is not None and junit.is_file()
    report = None
    lines = counter.watch(capture.lines(PARSE_HEAD_BYTES))
    if failed or use_junit:
        report = build_report(lines, source={"kind": "sandbox"})
    else:
        for _ in lines:  # only the collected count
            pass
    found = TestsFound(report=report.to_json() if report and failed else None, collected=counter.collected)
    parsed = None
    if junit is not None and use_junit:
        try:
            parsed = parse_junit(junit, repo_dir=str(tree))
        except (JUnitError, OSError):
            parsed = None
    if parsed is not None:
        failing = set(report.failing_tests) if report else set()
        found.tests = [
            _contradicted(t) if t.id in failing and t.outcome is Outcome.PASSED else t for t in parsed.tests
        ]
        found.source = "junit"
        found.collected = counter.collected if counter.collected is not None else parsed.collected
    elif report is not None and failed and report.failing_tests:
        found.tests = [TestOutcome(id=t, outcome=Outcome.FAILED) for t in report.failing_tests]
        found.source = "parsed"
    return found


def _contradicted(test: TestOutcome) -> TestOutcome:
    return replace(test, outcome=Outcome.FAILED, message=CONTRADICTED)
