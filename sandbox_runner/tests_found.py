"""Which tests a run ran and how each ended: from JUnit XML when the run wrote it, else from the output.

Standard library only. The output is read once, from the capture (the spooled head, then the tail),
for pytest's `collected N items` and, when the run failed, for the FailureReport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox_runner.capture import OutputCapture
from sandbox_runner.junit import JUnitError, parse_junit
from sandbox_runner.report import build_report
from sandbox_runner.result import Outcome, TestOutcome
from sandbox_runner.testcmd import CollectedCounter

PARSE_HEAD_BYTES = 8 << 20  # of the output's head, read by the parsers (the tail is read too)


@dataclass
class TestsFound:
    __test__ = False  # not a pytest test class

    tests: list[TestOutcome] = field(default_factory=list)
    source: str = "none"  # "junit" | "parsed" | "none"
    collected: int | None = None
    report: dict[str, Any] | None = None


def tests_of(capture: OutputCapture, junit: Path | None, tree: Path, *, failed: bool) -> TestsFound:
    counter = CollectedCounter()
    lines = counter.watch(capture.lines(PARSE_HEAD_BYTES))
    report = build_report(lines, source={"kind": "sandbox"}) if failed else None
    if not failed:
        for _ in lines:
            pass
    found = TestsFound(report=report.to_json() if report else None, collected=counter.collected)
    if junit is not None and junit.is_file():
        try:
            parsed = parse_junit(junit, repo_dir=str(tree))
        except (JUnitError, OSError):
            parsed = None
        if parsed is not None:
            found.tests, found.source = parsed.tests, "junit"
            found.collected = counter.collected if counter.collected is not None else parsed.collected
            return found
    if report is not None and report.failing_tests:
        found.tests = [TestOutcome(id=t, outcome=Outcome.FAILED) for t in report.failing_tests]
        found.source = "parsed"
    return found
