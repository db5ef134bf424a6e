"""The Python parsers (pytest, unittest, doctest, tracebacks) over the CI log fixtures, over real
output of pytest/unittest/doctest/python run on small failing projects, and for bounded memory."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_runner.failure import MAX_FRAMES, MAX_TESTS, FailureClass, Finding, LineParser
from sandbox_runner.parsers.python import DoctestParser, PytestParser, TracebackParser, UnittestParser

LOGS = Path(__file__).parent / "fixtures" / "logs"
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def minimal_clean(lines: Iterable[str]) -> Iterator[str]:
    """A stand-in for the real cleaner: drop the Actions timestamp and ANSI codes."""
    for line in lines:
        yield _ANSI.sub("", _TIMESTAMP.sub("", line.rstrip("\r\n")))


def run_parser(parser: LineParser, lines: Iterable[str]) -> Finding | None:
    for line in minimal_clean(lines):
        parser.feed(line)
    return parser.result()


def parse_fixture(parser: LineParser, name: str) -> Finding:
    with (LOGS / f"{name}.log").open(encoding="utf-8", errors="replace") as f:
        finding = run_parser(parser, f)
    assert finding is not None
    return finding


def meta(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((LOGS / f"{name}.meta.json").read_text())
    return data


# Which parser carries each Python-ish fixture (the report combines them; here each is checked alone).
PYTEST_FIXTURES = [
    "gha-pytorch-dynamo-nameerror-reruns",
    "gha-pytorch-module-import-assertionerror",
    "gha-pytorch-pytest-distributed-timeout",
    "gha-pytorch-pytest-dynamo-runtimeerror",
    "gha-pytorch-pytest-keyboardinterrupt",
    "gha-pytorch-test-class-base-check",
    "pytest-44-failures-assertion-rewriting",
    "pytest-incremental-errors-and-failures",
    "pytest-tb-native-44-failures",
    "pytest-tb-short",
    "pytest-unittest-testcase-failures",
    "pytest-vv-full-diffs",
    "pytest-warning-as-error",
    "pytest-xdist-n2-44-failures",
]
TRACEBACK_FIXTURES = [
    "gha-pytorch-benchmark-cuda-oom",
    "gha-pytorch-full-job-log-hf-offline",
    "gha-pytorch-importerror-missing-so",
    "gha-pytorch-linter-adapter-timeout",
]
# pytest printed nothing for these: pytorch's run_test.py names the failing file or class
RUN_TEST_WRAPPER = {"gha-pytorch-module-import-assertionerror", "gha-pytorch-test-class-base-check"}
ALL_44 = {
    "pytest-44-failures-assertion-rewriting",
    "pytest-tb-native-44-failures",
    "pytest-xdist-n2-44-failures",
}


def expected_ids(name: str) -> set[str]:
    """Meta ids as node ids: "x (ERROR at setup)" notes dropped; pytorch runs from test/, so its
    pytest prints ids relative to it while run_test.py adds the prefix — both accepted."""
    return {re.sub(r" \(.*\)$", "", t) for t in meta(name)["failing_tests"]}


def test_every_python_fixture_is_covered() -> None:
    pythonish = {
        p.name.removesuffix(".meta.json")
        for p in LOGS.glob("*.meta.json")
        if json.loads(p.read_text()).get("language", "Python") == "Python"
        and (
            json.loads(p.read_text())["failing_tests"]
            or "Error" in json.loads(p.read_text())["exception_type"]
        )
    }
    assert pythonish <= set(PYTEST_FIXTURES) | set(TRACEBACK_FIXTURES)


@pytest.mark.parametrize("name", PYTEST_FIXTURES)
def test_pytest_fixture_failing_tests(name: str) -> None:
    finding = parse_fixture(PytestParser(), name)
    found = set(finding.failing_tests)
    if name in ALL_44:
        assert len(finding.failing_tests) == 44 == len(found)
        assert {
            "failure_demo.py::test_generative[3-6]",
            "failure_demo.py::TestFailing::test_simple",
            "failure_demo.py::TestRaises::test_some_error",
            "failure_demo.py::TestCustomAssertMsg::test_custom_repr",
        } <= found
    else:
        assert found == expected_ids(name)
    assert finding.flaky_tests == []


@pytest.mark.parametrize("name", PYTEST_FIXTURES + TRACEBACK_FIXTURES)
def test_fixture_exception_type(name: str) -> None:
    parser: LineParser = PytestParser() if name in PYTEST_FIXTURES else TracebackParser()
    finding = parse_fixture(parser, name)
    wanted = re.split(r"[ ;]", meta(name)["exception_type"], maxsplit=1)[0]
    assert finding.exception_type == wanted
    if name == "gha-pytorch-dynamo-nameerror-reruns":  # the wrapped error rides in the message
        assert finding.message == "NameError: name 'cell_and_freevars' is not defined"


# Chained exceptions: the last raise is the type, the root cause is kept in error_lines.
CHAINED: dict[str, tuple[str, type[LineParser]]] = {
    "gha-pytorch-pytest-dynamo-runtimeerror": ("RuntimeError: Subtraction, the `-` operator", PytestParser),
    "gha-pytorch-linter-adapter-timeout": ("subprocess.TimeoutExpired: Command", TracebackParser),
    "gha-pytorch-full-job-log-hf-offline": ("requests.exceptions.ReadTimeout: ", TracebackParser),
}


@pytest.mark.parametrize("name", sorted(CHAINED))
def test_fixture_chained_root_cause(name: str) -> None:
    cause, parser = CHAINED[name]
    finding = parse_fixture(parser(), name)
    assert any(line.startswith(cause) for line in finding.error_lines[:-1])
    assert finding.error_lines[-1].startswith(f"{finding.exception_type}: ")


# Printed order, the -ra summary and the suite's order all put a/test_db.py::test_a1 first; the meta
# names the third failure, test_step.py's, following the order of pytest's docs that hold the example.
INCREMENTAL_META = "meta names test_step.py:11 (third in every order the log shows); the parser keeps test_a1"


def _frame_params() -> list[Any]:
    params = []
    for name in PYTEST_FIXTURES + TRACEBACK_FIXTURES:
        marks = []
        if name == "pytest-incremental-errors-and-failures":
            reason = INCREMENTAL_META
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(name, marks=marks))
    return params


@pytest.mark.parametrize("name", _frame_params())
def test_fixture_innermost_project_frame(name: str) -> None:
    parser: LineParser = PytestParser() if name in PYTEST_FIXTURES else TracebackParser()
    finding = parse_fixture(parser, name)
    want = meta(name)["innermost_project_frame"]
    if name in ALL_44:  # the first test in the file, also under xdist, which prints another first
        innermost = finding.innermost_project_frame
        assert innermost is not None
        assert (Path(innermost.file).name, innermost.line, innermost.function) == (
            "failure_demo.py",
            21,
            "test_generative",
        )
        return
    got = [(f.file, f.line, f.function) for f in finding.frames]
    assert (want["file"], want["line"], want["function"]) in got
    innermost = finding.innermost_project_frame
    if innermost is not None and innermost.file == want["file"]:
        assert (innermost.line, innermost.function) == (want["line"], want["function"])
    elif "site-packages" not in want["file"]:  # installed torch counts as "project" for a person
        pytest.fail(f"innermost project frame {innermost} is not {want}")


@pytest.mark.parametrize("name", sorted(RUN_TEST_WRAPPER))
def test_run_test_wrapper_fixture(name: str) -> None:
    finding = parse_fixture(PytestParser(), name)
    whole_file = name == "gha-pytorch-module-import-assertionerror"
    assert finding.failure_class is (FailureClass.IMPORT_ERROR if whole_file else FailureClass.TEST_FAILURE)
    assert parse_fixture(TracebackParser(), name).failing_tests == []  # a traceback alone names no test


def test_run_test_wrapper_lines() -> None:
    """Class lines belong to the next module reported failed; a file pytest already named a test in
    adds nothing; a crash (signal) is not an error at import."""
    lines = [
        "Running inductor/test_a 1/2 ... [2026-07-24 18:47:00.269144][5722.385406931]",
        "PRINTING LOG FILE of inductor/test_a 1/2 (test/test-reports/inductor.test_a_1.2_57d5_.log)",
        "FAILED [0.0100s] inductor/test_a.py::TestA::test_one - AssertionError: 1 != 2",
        "FINISHED PRINTING LOG FILE of inductor/test_a 1/2 (test/test-reports/inductor.test_a_1.2_57d5_.log)",
        "inductor/test_a 1/2 failed!",
        "PRINTING LOG FILE of test_b 1/1 (test/test-reports/test_b_1.1_57d5_.log)",
        "TestB - failed. This test class should extend from torch.testing._internal.common_utils.TestCase"
        " but it doesn't.",
        "TestC - failed. This test class should extend from torch.testing._internal.common_utils.TestCase"
        " but it doesn't.",
        "test_b 1/1 failed!",
        "test_c 1/1 failed! Received signal: SIGSEGV",
        "Build failed!",
    ]
    finding = run_parser(PytestParser(), lines)
    assert finding is not None
    assert finding.failing_tests == [
        "inductor/test_a.py::TestA::test_one",
        "test_b.py::TestB",
        "test_b.py::TestC",
        "test_c.py",
    ]
    assert finding.failure_class is FailureClass.TEST_FAILURE


def test_keyboard_interrupt_is_infrastructure() -> None:
    finding = parse_fixture(PytestParser(), "gha-pytorch-pytest-keyboardinterrupt")
    assert finding.failure_class is FailureClass.INFRASTRUCTURE


# --- real output of small failing projects --------------------------------------------------

CALC = '''
def divide(a, b):
    return a / b


def add(a, b):
    """
    >>> add(1, 2)
    4
    >>> divide(1, 0)
    0
    """
    return a + b
'''
TEST_CALC = """
import pytest

from calc import add, divide


def test_add():
    assert add(1, 2) == 4


def test_divide():
    assert divide(1, 0) == 0


class TestThings:
    @pytest.mark.parametrize("n", [1, 2])
    def test_param(self, n):
        assert n == 1


def test_ok():
    assert True


def test_sub(subtests):
    for i in range(3):
        with subtests.test(msg="loop", i=i):
            assert i != 1


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_setup(broken):
    pass
"""
TEST_UT = """
import unittest

from calc import add, divide


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(1, 2), 4)

    def test_divide(self):
        divide(1, 0)

    def test_ok(self):
        self.assertTrue(True)

    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 1)
"""
CHAINED_SCRIPT = """
def load(path):
    try:
        return open(path).read()
    except FileNotFoundError as exc:
        raise RuntimeError(f"cannot load {path}") from exc


def handle():
    try:
        load("/nonexistent/config.toml")
    except RuntimeError:
        {}["missing"]


handle()
"""
PYTEST_IDS = {
    "test_calc.py::test_add",
    "test_calc.py::test_divide",
    "test_calc.py::TestThings::test_param[2]",
    "test_calc.py::test_sub",
    "test_calc.py::test_setup",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    for name, text in {
        "calc.py": CALC,
        "test_calc.py": TEST_CALC,
        "test_ut.py": TEST_UT,
        "chained.py": CHAINED_SCRIPT,
    }.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


def run(cwd: Path, *args: str) -> list[str]:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # plugins load by -p only: fast, stable
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0, proc.stdout
    return (proc.stdout + proc.stderr).splitlines()


def run_pytest(cwd: Path, *args: str) -> list[str]:
    return run(cwd, "-m", "pytest", "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("tb", ["long", "short", "line", "native", "no"])
def test_real_pytest_tb_styles(project: Path, tb: str) -> None:
    finding = run_parser(PytestParser(), run_pytest(project, "test_calc.py", "-ra", f"--tb={tb}"))
    assert finding is not None
    assert set(finding.failing_tests) == PYTEST_IDS
    assert finding.flaky_tests == []
    assert finding.failure_class is FailureClass.TEST_FAILURE
    # the first failure printed (failures before setup errors): test_add's assertion
    assert (finding.exception_type, finding.message) == ("AssertionError", "assert 3 == 4")
    if tb != "no":
        innermost = finding.innermost_project_frame
        assert innermost is not None
        assert (Path(innermost.file).name, innermost.line) == ("test_calc.py", 7)
        assert innermost.function == (None if tb == "line" else "test_add")


REVERSE_ORDER = """
def pytest_collection_modifyitems(items):
    items.reverse()  # as xdist's workers or a random order may print them
"""


@pytest.mark.parametrize("tb", ["long", "short", "native"])
def test_real_pytest_first_failure_in_suite_order(tmp_path: Path, tb: str) -> None:
    """The failure reported is the first in the suite's own order however the run printed them."""
    for name, text in {"calc.py": CALC, "test_calc.py": TEST_CALC}.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    plain = run_parser(PytestParser(), run_pytest(tmp_path, "-p", "no:randomly", f"--tb={tb}"))
    (tmp_path / "conftest.py").write_text(REVERSE_ORDER)
    reversed_run = run_pytest(tmp_path, "-p", "no:randomly", f"--tb={tb}")
    headers = [ln for ln in reversed_run if ln.startswith("___") and " test_" in ln]
    assert "test_add" in headers[-1]  # printed last when reversed
    shuffled = run_parser(PytestParser(), reversed_run)
    assert plain is not None
    assert shuffled is not None
    assert (shuffled.exception_type, shuffled.message) == ("AssertionError", "assert 3 == 4")
    assert (shuffled.exception_type, shuffled.message, shuffled.frames) == (
        plain.exception_type,
        plain.message,
        plain.frames,
    )


@pytest.mark.parametrize("tb", ["long", "short"])
def test_real_pytest_without_summary_names_tests_from_headers(project: Path, tb: str) -> None:
    finding = run_parser(PytestParser(), run_pytest(project, "test_calc.py", f"--tb={tb}"))
    assert finding is not None
    assert set(finding.failing_tests) == PYTEST_IDS


def test_real_pytest_frames_reach_the_helper(project: Path) -> None:
    lines = run_pytest(project, "test_calc.py::test_divide", "--tb=long")
    finding = run_parser(PytestParser(), lines)
    assert finding is not None
    assert finding.exception_type == "ZeroDivisionError"
    assert [(f.file, f.line, f.function) for f in finding.frames] == [
        ("test_calc.py", 11, "test_divide"),
        ("calc.py", 2, "divide"),
    ]


def test_real_pytest_collection_error(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text("import no_such_module_xyz\n")
    finding = run_parser(PytestParser(), run_pytest(tmp_path, "-ra"))
    assert finding is not None
    assert finding.failing_tests == ["test_broken.py"]
    assert finding.failure_class is FailureClass.IMPORT_ERROR
    assert finding.exception_type == "ModuleNotFoundError"
    innermost = finding.innermost_project_frame
    assert innermost is not None
    assert (innermost.file, innermost.line) == ("test_broken.py", 1)


def test_real_pytest_syntax_error_at_collection(tmp_path: Path) -> None:
    (tmp_path / "test_syntax.py").write_text("def test_x():\n    return (1,\n\n\ndef f(:\n    pass\n")
    finding = run_parser(PytestParser(), run_pytest(tmp_path, "-ra"))
    assert finding is not None
    assert finding.failing_tests == ["test_syntax.py"]
    assert finding.exception_type == "SyntaxError"
    assert finding.failure_class is FailureClass.SYNTAX_ERROR
    innermost = finding.innermost_project_frame
    assert innermost is not None
    assert Path(innermost.file).name == "test_syntax.py"


def test_real_syntax_error_script(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("def f(:\n    pass\n")
    (tmp_path / "main.py").write_text("import helper\n")
    finding = run_parser(TracebackParser(), run(tmp_path, "main.py"))
    assert finding is not None
    assert finding.exception_type == "SyntaxError"
    assert finding.failure_class is FailureClass.SYNTAX_ERROR
    assert [(Path(f.file).name, f.line, f.function) for f in finding.frames] == [
        ("main.py", 1, "<module>"),
        ("helper.py", 1, None),
    ]


@pytest.mark.parametrize("summary", [[], ["-ra"]])
def test_real_pytest_doctest_modules(project: Path, summary: list[str]) -> None:
    finding = run_parser(PytestParser(), run_pytest(project, "--doctest-modules", "calc.py", *summary))
    assert finding is not None
    assert finding.failing_tests == ["calc.py::calc.add"]
    assert finding.exception_type == "DocTestFailure"
    assert [(Path(f.file).name, f.line) for f in finding.frames] == [("calc.py", 7)]


def test_real_pytest_interrupted_names_the_running_test(tmp_path: Path) -> None:
    (tmp_path / "test_stuck.py").write_text(
        "def test_first():\n    pass\n\n\ndef test_stuck():\n    raise KeyboardInterrupt\n"
    )
    finding = run_parser(PytestParser(), run_pytest(tmp_path, "-v"))
    assert finding is not None
    assert finding.failing_tests == ["test_stuck.py::test_stuck"]
    assert finding.exception_type == "KeyboardInterrupt"
    assert finding.failure_class is FailureClass.INFRASTRUCTURE
    assert [(Path(f.file).name, f.line) for f in finding.frames] == [("test_stuck.py", 6)]


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is not installed")
def test_real_pytest_xdist(project: Path) -> None:
    finding = run_parser(PytestParser(), run_pytest(project, "test_calc.py", "-ra", "-p", "xdist", "-n", "2"))
    assert finding is not None
    assert set(finding.failing_tests) == PYTEST_IDS


def test_real_unittest(project: Path) -> None:
    finding = run_parser(UnittestParser(), run(project, "-m", "unittest", "test_ut"))
    assert finding is not None
    assert set(finding.failing_tests) == {
        "test_ut.CalcTest.test_add",
        "test_ut.CalcTest.test_divide",
        "test_ut.CalcTest.test_sub",
    }
    assert finding.exception_type == "ZeroDivisionError"  # test_divide's error is printed first
    innermost = finding.innermost_project_frame
    assert innermost is not None
    assert (Path(innermost.file).name, innermost.line) == ("calc.py", 2)


def test_real_unittest_import_error(tmp_path: Path) -> None:
    finding = run_parser(UnittestParser(), run(tmp_path, "-m", "unittest", "test_missing_module"))
    assert finding is not None
    assert finding.failing_tests == ["test_missing_module"]
    assert finding.failure_class is FailureClass.IMPORT_ERROR
    assert finding.exception_type == "ModuleNotFoundError"


def test_real_doctest(project: Path) -> None:
    finding = run_parser(DoctestParser(), run(project, "-m", "doctest", "calc.py"))
    assert finding is not None
    assert finding.failing_tests == ["calc.add"]
    assert finding.exception_type == "ZeroDivisionError"
    innermost = finding.innermost_project_frame
    assert innermost is not None
    assert (Path(innermost.file).name, innermost.function) == ("calc.py", "divide")


def test_real_chained_traceback(project: Path) -> None:
    finding = run_parser(TracebackParser(), run(project, "chained.py"))
    assert finding is not None
    assert (finding.exception_type, finding.message) == ("KeyError", "'missing'")
    assert finding.error_lines == [
        "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/config.toml'",
        "RuntimeError: cannot load /nonexistent/config.toml",
        "KeyError: 'missing'",
    ]
    innermost = finding.innermost_project_frame
    assert innermost is not None
    assert (innermost.line, innermost.function) == (12, "handle")
    assert [f.line for f in finding.frames] == [3, 10, 5, 15, 12]


def test_parsers_ignore_each_others_output(project: Path) -> None:
    script = run(project, "chained.py")
    assert run_parser(PytestParser(), script) is None
    assert run_parser(UnittestParser(), script) is None
    assert run_parser(DoctestParser(), script) is None


# --- reruns (pytest-rerunfailures' verbose lines) -------------------------------------------


@pytest.mark.parametrize(
    ("lines", "failing", "flaky"),
    [
        (
            ["t.py::test_a RERUN", "t.py::test_a PASSED", "t.py::test_b FAILED"],
            ["t.py::test_b"],
            ["t.py::test_a"],
        ),
        (["t.py::test_a RERUN", "t.py::test_a RERUN", "t.py::test_a FAILED"], ["t.py::test_a"], []),
        (["[gw0] [ 50%] RERUN t.py::test_a", "[gw0] [ 50%] PASSED t.py::test_a"], [], ["t.py::test_a"]),
        (["FAILED t.py::test_a - assert 0", "t.py::test_a PASSED"], [], ["t.py::test_a"]),
    ],
)
def test_rerun_then_pass_is_flaky(lines: list[str], failing: list[str], flaky: list[str]) -> None:
    finding = run_parser(PytestParser(), lines)
    assert finding is not None
    assert (finding.failing_tests, finding.flaky_tests) == (failing, flaky)


# --- bounded memory -------------------------------------------------------------------------


def _synthetic(n: int) -> Iterator[str]:
    block = [
        "___________________________ test_case ___________________________",
        "Traceback (most recent call last):",
        '  File "/repo/pkg/mod.py", line 10, in f',
        "    g()",
        "ValueError: boom",
        "FAILED tests/test_x.py::test_{i} - ValueError: boom",
        "tests/test_y.py::TestY::test_{i} RERUN",
        "FAIL: test_{i} (mod.Test.test_{i})",
        'File "/repo/mod.py", line 3, in mod.f_{i}',
        "Failed example:",
        "E   assert 1 == 2",
    ]
    i = 0
    while i < n:
        for line in block:
            yield line.format(i=i)
            i += 1


@pytest.mark.parametrize("parser_type", [PytestParser, UnittestParser, DoctestParser, TracebackParser])
def test_a_million_lines_in_bounded_memory(parser_type: type[LineParser]) -> None:
    """After a million lines the parser is full (every cap reached); the next 50,000 lines, traced,
    must not make it grow. (Tracing all million lines would take the test past its time budget.)"""
    parser = parser_type()
    for line in _synthetic(1_000_000):
        parser.feed(line)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for line in _synthetic(50_000):
            parser.feed(line)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 50_000
    assert peak - before < 1_000_000
    finding = parser.result()
    assert finding is not None
    assert len(finding.failing_tests) <= MAX_TESTS
    assert len(finding.frames) <= MAX_FRAMES
    if parser_type is not TracebackParser:
        assert len(finding.failing_tests) == MAX_TESTS
