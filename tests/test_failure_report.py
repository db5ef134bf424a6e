"""FailureReport assembly: finding choice, class, reproduction command, redaction, JSON, the commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from sandbox_runner.failure import FailureClass, Finding, Frame, GatedLineParser, Location
from sandbox_runner.logclean import clean_lines
from sandbox_runner.report import (
    PARSERS,
    FailureReport,
    build_report,
    choose_finding,
    classify,
    make_fingerprint,
    render_excerpt,
    reproduction_command,
)

LOGS = Path(__file__).parent / "fixtures" / "logs"
ROOT = Path(__file__).parent.parent
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


# --- choosing a finding -------------------------------------------------------------------------


def test_first_non_empty_finding_wins_and_gaps_are_filled() -> None:
    frames = [Frame("t.py", 3, "test_a", True)]
    pytest_f = Finding(parser="pytest", failing_tests=["t.py::test_a"])
    tb = Finding(
        parser="traceback", exception_type="KeyError", message="'x'", frames=frames, error_lines=["E"]
    )
    best = choose_finding([pytest_f, tb])
    assert best.parser == "pytest"
    assert best.failing_tests == ["t.py::test_a"]
    assert (best.exception_type, best.message, best.frames) == ("KeyError", "'x'", frames)
    assert best.error_lines == ["E"]
    assert pytest_f.exception_type is None  # the parser's own finding is left as it was


def test_flaky_tests_are_merged_and_not_failing() -> None:
    a = Finding(parser="pytest", failing_tests=["t.py::a", "t.py::b"], flaky_tests=["t.py::b"])
    b = Finding(parser="unittest", flaky_tests=["t.py::c"])
    best = choose_finding([a, b])
    assert best.failing_tests == ["t.py::a"]
    assert best.flaky_tests == ["t.py::b", "t.py::c"]


def test_no_findings_gives_an_empty_one() -> None:
    assert choose_finding([]).is_empty()


# --- failure class ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "errors", "expected"),
    [
        (Finding(parser="tool", failure_class=FailureClass.BUILD_ERROR), [], FailureClass.BUILD_ERROR),
        (Finding(parser="pytest", exception_type="ModuleNotFoundError"), [], FailureClass.IMPORT_ERROR),
        (Finding(parser="traceback", exception_type="ImportError"), [], FailureClass.IMPORT_ERROR),
        (Finding(parser="traceback", exception_type="SyntaxError"), [], FailureClass.SYNTAX_ERROR),
        (Finding(parser="traceback", exception_type="IndentationError"), [], FailureClass.SYNTAX_ERROR),
        (Finding(parser="traceback", exception_type="MemoryError"), [], FailureClass.OUT_OF_MEMORY),
        (
            Finding(parser="traceback", exception_type="torch.OutOfMemoryError"),
            [],
            FailureClass.OUT_OF_MEMORY,
        ),
        (
            Finding(parser="traceback", exception_type="RuntimeError", message="CUDA out of memory. Tried"),
            [],
            FailureClass.OUT_OF_MEMORY,
        ),
        (Finding(parser="traceback", exception_type="subprocess.TimeoutExpired"), [], FailureClass.TIMEOUT),
        (Finding(parser="traceback", exception_type="TimeoutError"), [], FailureClass.TIMEOUT),
        (Finding(parser="pytest", exception_type="KeyboardInterrupt"), [], FailureClass.INFRASTRUCTURE),
        (
            Finding(parser="traceback", exception_type="requests.exceptions.ReadTimeout"),
            [],
            FailureClass.INFRASTRUCTURE,
        ),
        (
            Finding(
                parser="traceback", exception_type="OSError", message="We couldn't connect to 'https://hf.co'"
            ),
            [],
            FailureClass.INFRASTRUCTURE,
        ),
        (
            Finding(parser="generic", error_lines=["x"]),
            ["The runner has received a shutdown signal."],
            FailureClass.INFRASTRUCTURE,
        ),
        (
            Finding(parser="generic", error_lines=["x"]),
            ["The job running on runner r1 has exceeded the maximum execution time of 360 minutes."],
            FailureClass.TIMEOUT,
        ),
        (
            Finding(parser="pytest", failing_tests=["t.py::a"], exception_type="AssertionError"),
            [],
            FailureClass.TEST_FAILURE,
        ),
        (Finding(parser="tool", locations=[Location("a.py", 1, 1, "E501")]), [], FailureClass.LINT_ERROR),
        (Finding(parser="generic", locations=[Location("a.c", 1, 1, "error")]), [], FailureClass.BUILD_ERROR),
        (Finding(parser="generic", error_lines=["something broke"]), [], FailureClass.UNKNOWN),
    ],
)
def test_classify(finding: Finding, errors: list[str], expected: FailureClass) -> None:
    assert classify(finding, errors) is expected


# --- reproduction command -----------------------------------------------------------------------


def test_repo_command_wins() -> None:
    f = Finding(parser="pytest", failing_tests=["t.py::a"])
    assert reproduction_command(f, "make test", "pytest") == "make test"


def test_pytest_ids_are_quoted() -> None:
    f = Finding(parser="pytest", failing_tests=["t.py::a", "t.py::test_g[3-6]"])
    assert reproduction_command(f, None, "x") == "python -m pytest t.py::a 't.py::test_g[3-6]'"


def test_unittest_ids() -> None:
    f = Finding(parser="unittest", failing_tests=["pkg.tests.TestX.test_y"])
    assert reproduction_command(f, None, "x") == "python -m unittest pkg.tests.TestX.test_y"


def test_ids_are_capped() -> None:
    f = Finding(parser="pytest", failing_tests=[f"t.py::test_{i}" for i in range(50)])
    cmd = reproduction_command(f, None, None)
    assert cmd is not None
    assert cmd.count("::") == 20


def test_step_command_when_no_ids() -> None:
    assert reproduction_command(Finding(parser="tool"), None, "ruff check .") == "ruff check ."
    assert reproduction_command(
        Finding(parser="java", failing_tests=["A > b()"]), None, "./gradlew build"
    ) == ("./gradlew build")
    assert reproduction_command(Finding(parser="generic"), None, None) is None


# --- excerpt, fingerprint -----------------------------------------------------------------------


def test_excerpt_puts_error_lines_first_and_is_capped() -> None:
    text = render_excerpt(["E boom"], ["a", "E boom", "b"])
    assert text == "E boom\n…\na\nb"
    long = render_excerpt([], [f"line {i} " + "x" * 200 for i in range(500)])
    assert len(long) < 13_000
    assert long.endswith("(cut)")


def test_fingerprint_is_stable_and_counts_the_reports_class() -> None:
    f = Finding(parser="pytest", failing_tests=["t.py::a"], exception_type="KeyError")
    fp = make_fingerprint(f, FailureClass.TEST_FAILURE)
    assert fp == make_fingerprint(f, FailureClass.TEST_FAILURE)
    assert fp.startswith("v1:")
    assert make_fingerprint(f, FailureClass.IMPORT_ERROR) != fp
    other = Finding(parser="pytest", failing_tests=["t.py::b"], exception_type="ValueError")
    assert make_fingerprint(other, FailureClass.TEST_FAILURE) != fp


# --- whole reports ------------------------------------------------------------------------------

GHA_LOG = f"""\
2024-05-01T10:00:00.0000000Z ##[group]Run python -m pytest -q
2024-05-01T10:00:00.0000000Z \x1b[36;1mpython -m pytest -q\x1b[0m
2024-05-01T10:00:00.0000000Z shell: /usr/bin/bash -e {{0}}
2024-05-01T10:00:00.0000000Z env:
2024-05-01T10:00:00.0000000Z   GH_TOKEN: {TOKEN}
2024-05-01T10:00:00.0000000Z ##[endgroup]
2024-05-01T10:00:01.0000000Z Traceback (most recent call last):
2024-05-01T10:00:01.0000000Z   File "/home/runner/work/proj/proj/app/client.py", line 12, in fetch
2024-05-01T10:00:01.0000000Z     raise ValueError(f"bad token {TOKEN}")
2024-05-01T10:00:01.0000000Z ValueError: bad token {TOKEN} for https://x-access-token:{TOKEN}@github.com/o/r
2024-05-01T10:00:01.0000000Z ##[error]Process completed with exit code 1.
"""


def test_report_from_a_gha_log_with_a_planted_token() -> None:
    report = build_report(GHA_LOG.splitlines(), source={"kind": "check_run", "id": 7})
    text = json.dumps(report.to_json())
    assert TOKEN not in text
    assert report.source == {"kind": "check_run", "id": 7}
    assert report.failing_step == "Run python -m pytest -q"
    assert report.exit_code == 1
    assert report.reproduction_command == "python -m pytest -q"
    assert "Process completed with exit code 1." in report.excerpt
    assert "[REDACTED]" in report.excerpt
    assert report.exception_type == "ValueError"
    assert report.message is not None
    assert "[REDACTED]" in report.message
    frame = report.innermost_project_frame
    assert frame is not None
    assert (frame.line, frame.function) == (12, "fetch")


def test_json_round_trip() -> None:
    report = FailureReport(
        source={"kind": "log", "path": "x.log"},
        failure_class="test_failure",
        fixable=True,
        failing_tests=["t.py::a"],
        exception_type="AssertionError",
        message="assert 1 == 2",
        frames=[Frame("t.py", 3, "test_a", True)],
        locations=[Location("t.py", 3, None, "boom", "E1")],
        excerpt="E assert 1 == 2",
        reproduction_command="python -m pytest t.py::a",
        fingerprint="abc",
        parser="pytest",
    )
    data = json.loads(json.dumps(report.to_json()))
    assert data["schema_version"] == 1
    assert FailureReport.from_json(data) == report


def test_report_json_has_every_field_and_round_trips() -> None:
    report = build_report((LOGS / "pytest-tb-short.log").read_bytes())
    data = json.loads(json.dumps(report.to_json()))
    assert set(data) >= {
        "schema_version",
        "source",
        "failing_tests",
        "flaky_tests",
        "exception_type",
        "message",
        "frames",
        "locations",
        "failure_class",
        "fixable",
        "excerpt",
        "reproduction_command",
        "fingerprint",
        "parser",
    }
    assert FailureReport.from_json(data) == report
    assert report.fixable == FailureClass(report.failure_class).fixable


def test_empty_log_gives_an_unknown_report() -> None:
    report = build_report([])
    assert report.failure_class == "unknown"
    assert not report.fixable
    assert report.parser is None
    assert report.excerpt == ""
    assert report.fingerprint


# --- commands -----------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, timeout=50)


def test_module_command_prints_json() -> None:
    log = LOGS / "gha-java-gradle-junit-failure.log"
    out = _run(sys.executable, "-m", "sandbox_runner", "report", str(log), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["failing_step"] == "Run ./gradlew build"
    assert data["source"] == {"kind": "log", "path": str(log)}


def test_module_command_prints_a_summary() -> None:
    out = _run(sys.executable, "-m", "sandbox_runner", "report", str(LOGS / "pytest-tb-short.log"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("class:")
    assert "fingerprint:" in out.stdout


def test_module_command_missing_file(tmp_path: Path) -> None:
    out = _run(sys.executable, "-m", "sandbox_runner", "report", str(tmp_path / "nope.log"))
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert "nope.log" in out.stderr


def test_autofix_report_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text(GHA_LOG)
    autofix = Path(sys.executable).parent / "autofix"
    out = _run(str(autofix), "report-log", str(log), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["reproduction_command"] == "python -m pytest -q"
    assert TOKEN not in out.stdout
    assert _run(str(autofix), "report-log", str(tmp_path / "nope.log")).returncode == 2


# --- real pytest output -------------------------------------------------------------------------

APP = """\
import os


def fetch(n):
    token = os.environ["PLANTED"]
    if n > {limit}:
        raise ValueError(f"refused {{n}} with token {{token}} at {{object()!r}}")
    return n
"""
TESTS = """\
from app import fetch


def test_small():
    assert fetch(1) == 1


def test_big():
    assert fetch(5) == 5
"""


def _pytest_report(root: Path, limit: int = 3) -> tuple[FailureReport, subprocess.CompletedProcess[str]]:
    root.mkdir()
    (root / "app.py").write_text(APP.format(limit=limit))
    (root / "test_app.py").write_text(TESTS)
    env = {"PATH": "/usr/bin:/bin", "PLANTED": TOKEN}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert TOKEN in run.stdout  # the secret really is in the output
    return build_report(run.stdout.splitlines(), source={"kind": "log"}), run


def test_real_pytest_run_gives_a_redacted_report_whose_command_reproduces(tmp_path: Path) -> None:
    report, _ = _pytest_report(tmp_path / "one")
    assert report.failing_tests == ["test_app.py::test_big"]
    assert report.failure_class == "test_failure"
    assert report.fixable
    assert report.exception_type == "ValueError"
    frame = report.innermost_project_frame
    assert frame is not None
    assert (Path(frame.file).name, frame.line, frame.function) == ("app.py", 7, "fetch")
    assert report.reproduction_command == "python -m pytest test_app.py::test_big"
    assert TOKEN not in json.dumps(report.to_json())
    command = report.reproduction_command.split()
    rerun = subprocess.run(
        [sys.executable, *command[1:], "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path / "one",
        env={"PATH": "/usr/bin:/bin", "PLANTED": TOKEN},
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert rerun.returncode == 1
    assert "1 failed" in rerun.stdout


def test_real_pytest_fingerprint_is_stable_across_runs_and_differs_for_another_bug(tmp_path: Path) -> None:
    first, _ = _pytest_report(tmp_path / "first")
    second, _ = _pytest_report(tmp_path / "second-with-a-longer-dir")
    other, _ = _pytest_report(tmp_path / "other", limit=0)  # now test_small fails too
    assert first.fingerprint == second.fingerprint
    assert other.fingerprint != first.fingerprint


def test_a_class_another_parser_recognised_fills_an_unknown() -> None:
    # a linter's subprocess timed out: the traceback parser reads a RuntimeError it cannot class,
    # the generic parser sees "timed out" — the report must say timeout (not fixable), not unknown
    report = build_report((LOGS / "gha-pytorch-linter-adapter-timeout.log").read_bytes())
    assert report.parser == "traceback"
    assert report.failure_class == FailureClass.TIMEOUT.value
    assert report.fixable is False


# --- gated parsers ------------------------------------------------------------------------------

GATED = [make for make in PARSERS if isinstance(getattr(make, "trigger", None), re.Pattern)]


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".log") for p in LOGS.glob("*.log")))
def test_gated_parsers_skip_only_lines_they_would_ignore(name: str) -> None:
    """A gated parser fed only the lines build_report gives it finds what it finds in every line."""
    lines = list(clean_lines((LOGS / f"{name}.log").read_bytes()))
    assert GATED
    for make in GATED:
        every, gated = make(), cast(GatedLineParser, make())
        skipped = 0
        for line in lines:
            every.feed(line)
            if not gated.idle or gated.trigger.search(line):
                gated.feed(line)
            else:
                skipped += 1
        assert every.result() == gated.result()
        assert skipped > 0


def test_real_unittest_verbose_output_names_its_failing_test(tmp_path: Path) -> None:
    """Python 3.11+ prints `FAIL: test_add (test_calc.T.test_add)`; the traceback alone (which the
    pytest parser also reads) must not hide the unittest parser's ids."""
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (tmp_path / "test_calc.py").write_text(
        "import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
        "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "-v"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    report = build_report(done.stdout + done.stderr)
    assert (report.parser, report.failing_tests) == ("unittest", ["test_calc.T.test_add"])
    assert report.reproduction_command == "python -m unittest test_calc.T.test_add"
    assert report.exception_type == "AssertionError"
