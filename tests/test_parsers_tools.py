"""The tool, Java/JS/Go and generic parsers: against the CI log fixtures and their meta (ground
truth read by a person), against real output of the tools installed here, and in bounded memory."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_runner.failure import (
    MAX_ERROR_LINES,
    MAX_FRAMES,
    MAX_TESTS,
    FailureClass,
    Finding,
    LineParser,
)
from sandbox_runner.parsers.generic import GenericParser
from sandbox_runner.parsers.other import GoParser, JavaParser, JsParser
from sandbox_runner.parsers.tools import ToolParser

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
VENV_BIN = Path(sys.executable).parent
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean(lines: Iterable[str]) -> Iterator[str]:
    """A minimal stand-in for the real cleaner: no timestamps, no ANSI codes, no line ends."""
    for line in lines:
        yield _ANSI.sub("", _TIMESTAMP.sub("", line.rstrip("\r\n")))


def run(parser: LineParser, text: str | Iterable[str]) -> Finding | None:
    for line in clean(text.splitlines() if isinstance(text, str) else text):
        parser.feed(line)
    return parser.result()


def parse(parser: LineParser, text: str | Iterable[str]) -> Finding:
    finding = run(parser, text)
    assert finding is not None
    return finding


def fixture(name: str) -> tuple[list[str], dict[str, Any]]:
    log = (FIXTURES / f"{name}.log").read_text(encoding="utf-8", errors="replace").splitlines()
    meta = json.loads((FIXTURES / f"{name}.meta.json").read_text(encoding="utf-8"))
    return log, meta


# ------------------------------------------------------------------ the fixtures and their meta


def test_gradle_junit_failure_matches_meta() -> None:
    log, meta = fixture("gha-java-gradle-junit-failure")
    f = parse(JavaParser(), log)
    assert f.failing_tests == meta["failing_tests"]
    assert f.exception_type == meta["exception_type"].split(" (")[0]
    assert f.message == "java.nio.file.NoSuchFileException: ../data/astor_399.log"
    inner, want = f.innermost_project_frame, meta["innermost_project_frame"]
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == (want["file"], want["line"], want["function"])
    test = meta["test_frame"]
    assert any(
        (fr.file, fr.line) == (test["file"], test["line"]) and fr.function.endswith("." + test["function"])
        for fr in f.frames
        if fr.function
    ), "the test's own frame comes back through the cause's '... 4 more'"
    assert not f.frames[-1].project  # the JDK raised it
    assert f.failure_class is FailureClass.TEST_FAILURE


def test_maven_compile_error_takes_the_failed_goal_over_earlier_noise() -> None:
    log, meta = fixture("gha-java-maven-compile-error")
    f = parse(JavaParser(), log)
    want = meta["innermost_project_frame"]
    assert f.failing_tests == meta["failing_tests"] == []
    assert f.locations[0].file.endswith(want["file"])
    assert f.locations[0].line == want["line"]
    assert f.exception_type == meta["exception_type"]
    assert f.failure_class is FailureClass.BUILD_ERROR


def test_cpp_compile_error_first_location_is_the_gcc_error() -> None:
    log, meta = fixture("gha-pytorch-cpp-compile-error")
    f = parse(ToolParser(), log)
    want = meta["innermost_project_frame"]
    assert (f.locations[0].file, f.locations[0].line, f.locations[0].column) == (
        want["file"],
        want["line"],
        26,
    )
    assert len(f.locations) == 1, "notes are not kept when an error exists"
    assert f.exception_type == "compiler error (gcc)"
    assert f.failure_class is FailureClass.BUILD_ERROR


def test_lintrunner_findings_are_lint_errors_in_the_meta_file() -> None:
    log, meta = fixture("gha-pytorch-lintrunner-python-lint")
    parser = ToolParser()
    f = parse(parser, log)
    assert {loc.file for loc in f.locations} == {meta["innermost_project_frame"]["file"]}
    assert (f.locations[0].line, f.locations[0].code) == (14, "TC003")
    assert (
        f.locations[0].message
        == "(RUFF) Move standard library import `collections.abc.Sequence` into a type-checking block."
    )
    assert f.locations[-1].code == "format"  # PYFMT, which has no line
    assert parser.tool == "lintrunner"
    assert f.failure_class is FailureClass.LINT_ERROR


@pytest.mark.parametrize(
    ("name", "cls", "exception_type", "line"),
    [
        ("gha-pytorch-pip-wheel-build-failure", FailureClass.DEPENDENCY_ERROR, None, "Failed building wheel"),
        (
            "gha-pytorch-benchmark-cuda-oom",
            FailureClass.OUT_OF_MEMORY,
            "torch.OutOfMemoryError",
            "CUDA out of",
        ),
        ("gha-pytorch-linter-adapter-timeout", FailureClass.TIMEOUT, "RuntimeError", "timed out after 5"),
    ],
)
def test_generic_classifies_fixture(
    name: str, cls: FailureClass, exception_type: str | None, line: str
) -> None:
    log, meta = fixture(name)
    f = parse(GenericParser(), log)
    assert f.failure_class is cls
    assert f.exception_type == exception_type
    if exception_type:
        assert meta["exception_type"].startswith(exception_type)
    assert any(line in kept for kept in f.error_lines)
    assert len(f.error_lines) == len(set(f.error_lines))


def test_generic_keeps_the_oom_message_of_the_meta() -> None:
    log, meta = fixture("gha-pytorch-benchmark-cuda-oom")
    f = parse(GenericParser(), log)
    assert f.message is not None
    assert f.message.startswith(meta["exception_message"])


_OWN = {
    "tool": {"gha-pytorch-cpp-compile-error", "gha-pytorch-lintrunner-python-lint"},
    "java": {"gha-java-gradle-junit-failure", "gha-java-maven-compile-error"},
    "js": set(),
    "go": set(),
}


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.log")))
@pytest.mark.parametrize("make", [ToolParser, JavaParser, JsParser, GoParser])
def test_parsers_stay_silent_on_other_ecosystems_logs(make: type[Any], name: str) -> None:
    """A pytest log has `path:line: message` lines and Python exceptions; none is lint, Java or JS."""
    parser = make()
    finding = run(parser, fixture(name)[0])
    assert (finding is not None) == (name in _OWN[parser.name])


# ------------------------------------------------------------------ real tool output


def _tool_output(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0, done
    return done.stdout + done.stderr


@pytest.fixture
def broken_py(tmp_path: Path) -> Path:
    (tmp_path / "typed.py").write_text("import os\n\n\ndef f(x: int) -> str:\n    return x\n")
    return tmp_path


@pytest.mark.parametrize("fmt", ["concise", "full"])
def test_real_ruff(broken_py: Path, fmt: str) -> None:
    out = _tool_output(
        VENV_BIN / "ruff",
        "check",
        "--no-cache",
        "--isolated",
        "--output-format",
        fmt,
        "typed.py",
        cwd=broken_py,
    )
    parser = ToolParser()
    f = parse(parser, out)
    assert [(loc.file, loc.line, loc.column, loc.code) for loc in f.locations] == [("typed.py", 1, 8, "F401")]
    assert "`os` imported but unused" in f.locations[0].message
    assert parser.tool == "ruff"
    assert f.failure_class is FailureClass.LINT_ERROR


@pytest.mark.parametrize("fmt", ["concise", "full"])
def test_real_ruff_syntax_error(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "bad.py").write_text("y = (\n")
    out = _tool_output(
        VENV_BIN / "ruff", "check", "--no-cache", "--isolated", "--output-format", fmt, "bad.py", cwd=tmp_path
    )
    f = parse(ToolParser(), out)
    assert f.locations[0].file == "bad.py"
    assert f.locations[0].code == "invalid-syntax"
    assert f.failure_class is FailureClass.SYNTAX_ERROR


def test_real_mypy(broken_py: Path) -> None:
    out = _tool_output(VENV_BIN / "mypy", "--no-incremental", "--strict", "typed.py", cwd=broken_py)
    parser = ToolParser()
    f = parse(parser, out)
    loc = f.locations[0]
    assert (loc.file, loc.line, loc.code) == ("typed.py", 5, "return-value")
    assert loc.message.startswith("Incompatible return value type")
    assert parser.tool == "mypy"
    assert f.exception_type == "lint error (mypy)"
    assert f.failure_class is FailureClass.LINT_ERROR


def test_real_python_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("x = 1\ny = (\n")
    out = _tool_output(sys.executable, "bad.py", cwd=tmp_path)
    f = parse(ToolParser(), out)
    assert (f.locations[0].file.endswith("bad.py"), f.locations[0].line) == (True, 2)
    assert f.exception_type == "SyntaxError"
    assert f.message == "SyntaxError: '(' was never closed"
    assert f.failure_class is FailureClass.SYNTAX_ERROR


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_real_gcc_keeps_the_error_not_the_warning_or_note(tmp_path: Path) -> None:
    (tmp_path / "b.c").write_text('int main(void) {\n  int x = "a";\n  return y;\n}\n')
    out = _tool_output("gcc", "-c", "b.c", "-o", "b.o", cwd=tmp_path)
    assert "warning:" in out
    assert "note:" in out
    parser = ToolParser()
    f = parse(parser, out)
    assert [(loc.file, loc.line, loc.column) for loc in f.locations] == [("b.c", 3, 10)]
    assert "undeclared" in f.locations[0].message
    assert parser.tool == "gcc"
    assert f.failure_class is FailureClass.BUILD_ERROR


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_compiler_warnings_alone_are_not_a_finding(tmp_path: Path) -> None:
    (tmp_path / "w.c").write_text('int main(void) {\n  int x = "a";\n  return 0;\n}\n')
    done = subprocess.run(
        ["gcc", "-c", "w.c", "-o", "w.o"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "warning:" in done.stderr
    assert run(ToolParser(), done.stderr) is None


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac is not installed")
def test_real_javac(tmp_path: Path) -> None:
    (tmp_path / "Broken.java").write_text("class Broken {\n  int f() {\n    return missing;\n  }\n}\n")
    out = _tool_output("javac", "Broken.java", cwd=tmp_path)
    f = parse(ToolParser(), out)
    assert (f.locations[0].file, f.locations[0].line) == ("Broken.java", 3)
    assert f.exception_type == "compiler error (javac)"
    assert f.failure_class is FailureClass.BUILD_ERROR


@pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
def test_real_java_uncaught_exception(tmp_path: Path) -> None:
    (tmp_path / "Throw.java").write_text(
        "package demo;\n"
        "public class Throw {\n"
        '  static void inner() { throw new IllegalStateException("boom"); }\n'
        "  public static void main(String[] a) { inner(); }\n"
        "}\n"
    )
    out = _tool_output("java", "Throw.java", cwd=tmp_path)
    f = parse(JavaParser(), out)
    assert (f.exception_type, f.message) == ("java.lang.IllegalStateException", "boom")
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == ("Throw.java", 3, "demo.Throw.inner")
    assert f.frames[0].function == "demo.Throw.main"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_real_node_uncaught_error_in_an_es_module(tmp_path: Path) -> None:
    script = (
        'function inner() {\n  throw new TypeError("boom");\n}\nfunction outer() { inner(); }\nouter();\n'
    )
    (tmp_path / "t.mjs").write_text(script)
    out = _tool_output("node", "t.mjs", cwd=tmp_path)
    assert "file:///" in out
    f = parse(JsParser(), out)
    assert (f.exception_type, f.message) == ("TypeError", "boom")
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == (str(tmp_path / "t.mjs"), 2, "inner")
    assert [fr.function for fr in f.frames if fr.project][-2:] == ["outer", "inner"]
    assert not f.frames[0].project  # node's own loader


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_real_node_test_runner_assertion(tmp_path: Path) -> None:
    (tmp_path / "sum.test.js").write_text(
        "const test = require('node:test');\nconst assert = require('node:assert');\n"
        "test('adds', () => {\n  assert.strictEqual(1 + 1, 3);\n});\n"
    )
    out = _tool_output("node", "--test", "--test-reporter=spec", "sum.test.js", cwd=tmp_path)
    f = parse(JsParser(), out)
    assert f.failing_tests == ["adds"]
    assert f.failure_class is FailureClass.TEST_FAILURE
    assert f.exception_type == "AssertionError"
    inner = f.innermost_project_frame
    assert inner is not None
    assert (Path(inner.file).name, inner.line) == ("sum.test.js", 4)


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_real_go_test(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module demo\n\ngo 1.20\n")
    (tmp_path / "x_test.go").write_text(
        'package demo\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n\tt.Errorf("got %d", 3)\n}\n'
    )
    out = _tool_output("go", "test", "./...", cwd=tmp_path)
    f = parse(GoParser(), out)
    assert f.failing_tests == ["TestAdd"]
    assert f.frames[-1].file == "x_test.go"
    assert f.frames[-1].line == 6


# ------------------------------------------------------------------ formats without a tool here

_TOOL_CASES = [
    ("flake8", "src/app.py:3:1: E302 expected 2 blank lines, found 1", ("src/app.py", 3, 1, "E302")),
    (
        "pylint",
        "app.py:1:0: C0114: Missing module docstring (missing-module-docstring)",
        ("app.py", 1, 0, "C0114"),
    ),
    (
        "pyright",
        '  /w/app.py:12:5 - error: Type "int" is not assignable to "str" (reportAssignmentType)',
        ("/w/app.py", 12, 5, "reportAssignmentType"),
    ),
    ("tsc", "src/a.ts(12,5): error TS2322: Type 'number' is not assignable.", ("src/a.ts", 12, 5, "TS2322")),
    ("tsc", "src/a.ts:12:5 - error TS2322: Type 'number' is not assignable.", ("src/a.ts", 12, 5, "TS2322")),
    (
        "mypy",
        "pkg/m.py:7:3: error: Name 'x' is not defined  [name-defined]",
        ("pkg/m.py", 7, 3, "name-defined"),
    ),
    ("gcc", "src/x.cpp:4:2: fatal error: missing.h: No such file", ("src/x.cpp", 4, 2, None)),
    ("go", "./main.go:5:2: undefined: y", ("./main.go", 5, 2, None)),
]


@pytest.mark.parametrize(("tool", "line", "want"), _TOOL_CASES)
def test_tool_line_formats(tool: str, line: str, want: tuple[Any, ...]) -> None:
    parser = ToolParser()
    f = parse(parser, ["Run lint", line, "Found 1 error."])
    loc = f.locations[0]
    assert (loc.file, loc.line, loc.column, loc.code) == want
    assert parser.tool == tool


def test_eslint_stylish_block() -> None:
    log = """
/home/runner/work/app/src/index.js
  1:7   error    'x' is assigned a value but never used  no-unused-vars
  3:1   warning  Unexpected console statement           no-console

✖ 2 problems (1 error, 1 warning)
"""
    parser = ToolParser()
    f = parse(parser, log)
    assert [(loc.file, loc.line, loc.column, loc.code) for loc in f.locations] == [
        ("/home/runner/work/app/src/index.js", 1, 7, "no-unused-vars")
    ]
    assert f.locations[0].message == "'x' is assigned a value but never used"
    assert parser.tool == "eslint"


def test_lint_warnings_are_kept_when_no_error_exists() -> None:
    f = parse(ToolParser(), ["/w/a.py:3:1 - warning: Import could not be resolved (reportMissingImports)"])
    assert [loc.code for loc in f.locations] == ["reportMissingImports"]
    assert f.failure_class is FailureClass.LINT_ERROR


def test_errors_outrank_lint_a_syntax_error_first() -> None:
    log = [
        "a.py:1:1: F401 [*] `os` imported but unused",
        "b.c:2:3: error: expected ';'",
        "c.py:4: error: x  [syntax]",
    ]
    f = parse(ToolParser(), log)
    assert f.failure_class is FailureClass.SYNTAX_ERROR
    assert len(f.locations) == 3


_SUREFIRE = """
[INFO] Running com.example.AppTest
[ERROR] Tests run: 2, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.05 s <<< FAILURE! - in com.ex.AppT
[ERROR] testAdd(com.example.AppTest)  Time elapsed: 0.01 s  <<< FAILURE!
java.lang.AssertionError: expected:<3> but was:<2>
\tat org.junit.Assert.fail(Assert.java:89)
\tat org.junit.Assert.assertEquals(Assert.java:146)
\tat com.example.AppTest.testAdd(AppTest.java:14)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)

[ERROR] com.example.OtherTest.testSub -- Time elapsed: 0.002 s <<< ERROR!
java.lang.NullPointerException
\tat com.example.Other.sub(Other.java:9)
[INFO]
[ERROR] Tests run: 3, Failures: 1, Errors: 1, Skipped: 0
"""


@pytest.mark.parametrize(
    "line",
    [
        "e: file:///w/app/src/main/kotlin/App.kt:12:5 Unresolved reference: foo",
        "e: /w/app/src/main/kotlin/App.kt: (12, 5): Unresolved reference: foo",
    ],
)
def test_kotlin_compile_error(line: str) -> None:
    f = parse(JavaParser(), ["> Task :app:compileKotlin FAILED", line])
    loc = f.locations[0]
    assert (loc.file, loc.line, loc.column, loc.message) == (
        "/w/app/src/main/kotlin/App.kt",
        12,
        5,
        "Unresolved reference: foo",
    )
    assert f.failure_class is FailureClass.BUILD_ERROR


def test_maven_surefire_names_the_class_when_no_method_is_named() -> None:
    log = "[ERROR] Tests run: 2, Failures: 1, Errors: 0, Time elapsed: 0.1 s <<< FAILURE! -- in a.AppT"
    f = parse(JavaParser(), log)
    assert f.failing_tests == ["a.AppT"]
    assert f.failure_class is FailureClass.TEST_FAILURE


def test_maven_surefire_failures() -> None:
    f = parse(JavaParser(), _SUREFIRE)
    assert f.failing_tests == ["com.example.AppTest.testAdd", "com.example.OtherTest.testSub"]
    assert (f.exception_type, f.message) == ("java.lang.AssertionError", "expected:<3> but was:<2>")
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == ("AppTest.java", 14, "com.example.AppTest.testAdd")
    assert [fr.project for fr in f.frames] == [False, True, False, False]  # outermost first
    assert f.failure_class is FailureClass.TEST_FAILURE


_JEST = """
  console.log
    computing

      at Object.log (src/sum.js:2:11)

FAIL src/sum.test.js
  sum
    ✓ adds positives (2 ms)
    ✕ adds negatives (3 ms)

  ● sum › adds negatives

    expect(received).toBe(expected) // Object.is equality

    Expected: -3
    Received: -1

      4 | test('adds negatives', () => {
    > 5 |   expect(sum(-1, -2)).toBe(-3);
        |                       ^

      at Object.toBe (src/sum.test.js:5:23)
      at Promise.then.completed (node_modules/jest-circus/build/utils.js:298:28)

Tests:       1 failed, 1 passed, 2 total
"""

_VITEST = """
 FAIL  src/sum.test.ts > sum > adds negatives
AssertionError: expected -1 to be -3 // Object.is equality
 ❯ src/sum.test.ts:5:23
      3| test('adds negatives', () => {
"""

_MOCHA = """
  sum
    ✔ adds positives
    1) adds negatives


  1 passing (5ms)
  1 failing

  1) sum
       adds negatives:

      AssertionError [ERR_ASSERTION]: -1 == -3
      + expected - actual
      at Context.<anonymous> (test/sum.test.js:9:12)
      at process.processImmediate (node:internal/timers:476:21)
"""


@pytest.mark.parametrize(
    ("log", "tests", "exception_type", "frame"),
    [
        (_JEST, ["sum › adds negatives"], None, ("src/sum.test.js", 5, "Object.toBe")),
        (_VITEST, ["src/sum.test.ts > sum > adds negatives"], "AssertionError", ("src/sum.test.ts", 5, None)),
        (_MOCHA, ["sum adds negatives"], "AssertionError", ("test/sum.test.js", 9, "Context.<anonymous>")),
    ],
    ids=["jest", "vitest", "mocha"],
)
def test_js_runners(log: str, tests: list[str], exception_type: str | None, frame: tuple[Any, ...]) -> None:
    f = parse(JsParser(), log)
    assert f.failing_tests == tests
    assert f.exception_type == exception_type
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == frame
    assert f.failure_class is FailureClass.TEST_FAILURE


def test_jest_message_is_the_expectation_and_node_modules_is_not_project() -> None:
    f = parse(JsParser(), _JEST)
    assert f.message == "expect(received).toBe(expected) // Object.is equality"
    assert [fr.project for fr in f.frames] == [False, True]  # and none of the console.log's frame


def test_jest_suite_failed_to_run_is_an_import_error() -> None:
    log = "FAIL src/a.test.js\n  ● Test suite failed to run\n\n    Cannot find module './b'\n"
    f = parse(JsParser(), log)
    assert f.failing_tests == ["src/a.test.js"]
    assert f.failure_class is FailureClass.IMPORT_ERROR


_GO_TEST = """
=== RUN   TestAdd
    calc_test.go:12: Add(1, 2) = 4, want 3
--- FAIL: TestAdd (0.00s)
=== RUN   TestSub
--- PASS: TestSub (0.00s)
FAIL
FAIL\texample.com/calc\t0.003s
"""

_GO_PANIC = """
=== RUN   TestIndex
--- FAIL: TestIndex (0.00s)
panic: runtime error: index out of range [5] with length 3 [recovered]
\tpanic: runtime error: index out of range [5] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x5120e0, 0xc000016120})
\t/usr/local/go/src/testing/testing.go:1545 +0x238
panic({0x5120e0?, 0xc000016120?})
\t/usr/local/go/src/runtime/panic.go:914 +0x21f
example.com/calc.Get(...)
\t/home/runner/work/calc/calc/calc.go:8
example.com/calc.TestIndex(0x0?)
\t/home/runner/work/calc/calc/calc_test.go:20 +0x1d
testing.tRunner(0xc0000836c0, 0x52a6f8)
\t/usr/local/go/src/testing/testing.go:1595 +0xff

goroutine 1 [chan receive]:
main.main()
\t/tmp/main.go:1 +0x1
FAIL\texample.com/calc\t0.004s
"""


def test_go_test_failure() -> None:
    f = parse(GoParser(), _GO_TEST)
    assert f.failing_tests == ["TestAdd"]
    assert f.message == "Add(1, 2) = 4, want 3"
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == ("calc_test.go", 12, "TestAdd")
    assert f.failure_class is FailureClass.TEST_FAILURE


def test_go_panic_frames() -> None:
    f = parse(GoParser(), _GO_PANIC)
    assert f.failing_tests == ["TestIndex"]
    assert (f.exception_type, f.message) == ("panic", "runtime error: index out of range [5] with length 3")
    inner = f.innermost_project_frame
    assert inner is not None
    assert (inner.file, inner.line, inner.function) == (
        "/home/runner/work/calc/calc/calc.go",
        8,
        "example.com/calc.Get",
    )
    assert len(f.frames) == 5, "only the panicking goroutine"
    assert not f.frames[-1].project  # the runtime's panic handler


def test_go_timeout_and_build_failure() -> None:
    timeout = parse(GoParser(), "panic: test timed out after 10m0s\nrunning tests:\n\tTestSlow (10m0s)\n")
    assert timeout.failure_class is FailureClass.TIMEOUT
    build = parse(
        GoParser(), "# example.com/calc\n./calc.go:5:2: undefined: y\nFAIL\texample.com/calc [build failed]\n"
    )
    assert [(loc.file, loc.line, loc.column) for loc in build.locations] == [("./calc.go", 5, 2)]
    assert build.failure_class is FailureClass.BUILD_ERROR


@pytest.mark.parametrize(
    ("line", "cls"),
    [
        ("##[error]The runner has received a shutdown signal.", FailureClass.INFRASTRUCTURE),
        ("##[error]The hosted runner lost communication with the server.", FailureClass.INFRASTRUCTURE),
        (
            "fatal: unable to access 'https://github.com/x/y/': Could not resolve host: github.com",
            FailureClass.INFRASTRUCTURE,
        ),
        ("ERROR: No matching distribution found for nosuchpkg==9.9", FailureClass.DEPENDENCY_ERROR),
        ("ERROR: ResolutionImpossible: for help visit https://pip.pypa.io", FailureClass.DEPENDENCY_ERROR),
        ("  error: subprocess-exited-with-error", FailureClass.DEPENDENCY_ERROR),
        ("Killed", FailureClass.OUT_OF_MEMORY),
        ("Error: Process completed with exit code 137 (OOMKilled)", FailureClass.OUT_OF_MEMORY),
        ("##[error]The job has exceeded the maximum execution time of 360m0s", FailureClass.TIMEOUT),
        ("E   Failed: Timeout >60.0s", FailureClass.TIMEOUT),
        ("error: linker command failed with exit code 1", None),
    ],
)
def test_generic_classes(line: str, cls: FailureClass | None) -> None:
    f = parse(GenericParser(), ["starting", line, "done"])
    assert f.failure_class is cls
    assert f.error_lines == [line.strip()]


def test_generic_stronger_class_wins_and_cancel_after_timeout_stays_timeout() -> None:
    log = [
        "Error: connect timed out",
        "##[error]The job running on runner X has exceeded the maximum execution time of 60 minutes.",
        "##[error]The operation was canceled.",
    ]
    assert parse(GenericParser(), log).failure_class is FailureClass.TIMEOUT


def test_generic_keeps_first_and_last_error_lines_once() -> None:
    log = ["error: first"] + [f"error: step {i % 100}" for i in range(1000)] + ["error: step 5", "ok"]
    f = parse(GenericParser(), log)
    assert len(f.error_lines) == MAX_ERROR_LINES
    assert f.error_lines[0] == "error: first"
    assert f.error_lines[-1] == "error: step 5"
    assert len(set(f.error_lines)) == MAX_ERROR_LINES


def test_generic_is_silent_without_error_lines() -> None:
    script = [
        "continue_on_error: false",
        "CONTINUE_THROUGH_ERROR: False",
        'echo "ERROR: no GPU"',
        "+ echo 'timed out'",
        "##[group]Run make || Error: x",
    ]
    assert run(GenericParser(), ["all good", *script, "Done."]) is None


# ------------------------------------------------------------------ bounded memory

_FLOOD = [
    "src/m{i}.py:{i}:5: F401 [*] `os` imported but unused",
    "Suite{i}Test > test{i}() FAILED",
    "    java.lang.IllegalStateException: boom {i}",
    "        at com.example.Suite.method{i}(Suite.java:{i})",
    "  ● suite › test {i}",
    "    at fn{i} (src/a.js:{i}:3)",
    "--- FAIL: Test{i} (0.00s)",
    "    x_test.go:{i}: message {i}",
    "Error: failure number {i}",
    "[ERROR] /w/src/A{i}.java:[{i},1] cannot find symbol",
]


def _sizes(parser: object) -> Iterator[int]:
    for value in vars(parser).values():
        if isinstance(value, list | dict | set | tuple) or hasattr(value, "maxlen"):
            yield len(value)
        elif hasattr(value, "__dict__"):
            yield from _sizes(value)


def test_a_million_lines_keep_every_parser_bounded() -> None:
    parsers: list[LineParser] = [ToolParser(), JavaParser(), JsParser(), GoParser(), GenericParser()]
    noise = [f"step {k}: compiling module {k} of the project, nothing wrong" for k in range(len(_FLOOD))]
    block = [line for n in range(500) for t in _FLOOD for line in (t.format(i=n), noise[n % 10])]  # 500 ids
    for _ in range(100):  # 1,000,000 lines
        for line in block:
            for p in parsers:
                p.feed(line)
    bound = max(MAX_TESTS, MAX_FRAMES, MAX_ERROR_LINES)
    for p in parsers:
        assert max(_sizes(p), default=0) <= bound, p.name
        finding = p.result()
        assert finding is not None, p.name
        assert len(finding.failing_tests) <= MAX_TESTS
        assert len(finding.frames) <= MAX_FRAMES
        assert len(finding.locations) <= MAX_ERROR_LINES
        assert len(finding.error_lines) <= MAX_ERROR_LINES
    tests = [p.result() for p in parsers]
    assert all(t is not None for t in tests)
    assert len(tests[1].failing_tests) == MAX_TESTS  # type: ignore[union-attr]
