"""Localization from real test runs: small projects in tmp_path, their tests run with real pytest (or
unittest) in a subprocess, the log turned into a FailureReport, the checkout localized."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.patch.context import Context
from jobs.patch.localize import build_context, context_json
from sandbox_runner.report import FailureReport, build_report

CALC = {
    "calc/__init__.py": "from calc.ops import add, mean, spread\n",
    "calc/ops.py": (
        "def add(a, b):\n"
        "    return a - b\n"
        "\n\n"
        "def total(xs):\n"
        "    t = 0\n"
        "    for x in xs:\n"
        "        t = add(t, x)\n"
        "    return t\n"
        "\n\n"
        "def mean(xs):\n"
        "    return total(xs) / len(xs)\n"
        "\n\n"
        "def spread(xs):\n"
        "    return _width(max(xs), min(xs))\n"
        "\n\n"
        "def _width(hi, lo):\n"
        "    return (hi - lo) / 0\n"
    ),
}


CALC_TEST = "from calc import spread\n\n\ndef test_spread():\n    assert spread([1, 3]) == 2\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def run(root: Path, *args: str, pythonpath: str = ".") -> str:
    """The project's tests, run for real; the combined output is the CI log."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout
    return done.stdout + done.stderr


def pytest_log(root: Path, *targets: str, pythonpath: str = ".") -> str:
    args = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *targets)
    return run(root, *args, pythonpath=pythonpath)


def symbols(context: Context, n: int = 5) -> list[str | None]:
    return [loc.symbol for loc in context.locations[:n]]


def test_an_exception_deep_in_the_code_ranks_its_innermost_frame_first(tmp_path: Path) -> None:
    root = write(tmp_path, CALC | {"tests/test_spread.py": "from calc import spread\n\n\ndef test_spread():\n"
                                   "    assert spread([1, 3]) == 2\n"})  # fmt: skip
    report = build_report(pytest_log(root, "tests"))
    assert report.exception_type == "ZeroDivisionError"

    context = build_context(root, report=report)

    top = context.locations[0]
    assert (top.file, top.symbol, top.start_line, top.end_line) == ("calc/ops.py", "_width", 20, 21)
    assert any("innermost project frame" in why for why in top.why)
    assert symbols(context, 2) == ["_width", "spread"]  # then the frame that called it
    assert "calc/ops.py" in context.outline
    assert "def _width(hi, lo):  # L20-21" in context.outline["calc/ops.py"]
    assert context.snippets["calc/ops.py:20-21"] == "20  def _width(hi, lo):\n21      return (hi - lo) / 0\n"


def test_an_assertion_on_a_returned_value_ranks_what_the_failing_line_calls(tmp_path: Path) -> None:
    root = write(tmp_path, CALC | {"tests/test_add.py": (
        "from calc import add, mean\n\n\n"
        "def test_mean_of_one():\n    assert mean([4]) == 4\n\n\n"
        "def test_add():\n    x = 2\n    got = add(x, 3)\n    assert got == 5\n"
    )})  # fmt: skip
    report = build_report(pytest_log(root, "tests/test_add.py::test_add"))
    assert [f.function for f in report.frames] == ["test_add"]  # only the test's own frame

    context = build_context(root, report=report)

    assert context.locations[0].symbol == "add"
    assert "computes what the test's failing line checks" in context.locations[0].why
    assert "mean" not in symbols(context, 10)  # the passing test's callee is not evidence
    test = next(loc for loc in context.locations if loc.symbol == "test_add")
    assert test.file == "tests/test_add.py"
    assert "failing test" in test.why
    assert any(key.startswith("tests/test_add.py:") for key in context.snippets)  # the model sees the test


def test_what_the_called_function_calls_is_a_suspect_too(tmp_path: Path) -> None:
    root = write(tmp_path, CALC | {"tests/test_mean.py": "from calc import mean\n\n\ndef test_mean():\n"
                                   "    assert mean([1, 2, 3]) == 2\n"})  # fmt: skip
    context = build_context(root, report=build_report(pytest_log(root, "tests")))

    assert symbols(context, 4)[:1] == ["mean"]
    assert {"total", "add"} <= set(symbols(context, 5))  # mean -> total -> add, where the bug is


def test_unittest_ids_and_a_test_method_inherited_from_a_mixin(tmp_path: Path) -> None:
    root = write(tmp_path, CALC | {"tests/__init__.py": "", "tests/test_unit.py": (
        "import unittest\nimport calc.ops as ops\n\n\n"
        "class Mixin:\n    def test_add(self):\n        self.assertEqual(self.combine(1, 1), 2)\n\n\n"
        "class AddTest(Mixin, unittest.TestCase):\n"
        "    def combine(self, a, b):\n        return ops.add(a, b)\n"
    )})  # fmt: skip
    report = build_report(run(root, "-m", "unittest", "tests.test_unit"))
    assert [f.function for f in report.frames] == ["test_add"]

    context = build_context(root, report=report)

    assert context.locations[0].symbol == "add"
    assert "Mixin.test_add" in symbols(context, 5)


STACKS = {
    "stacks/__init__.py": "from stacks.impl import ListStack, LinkedStack\n",
    "stacks/impl.py": (
        "class ListStack:\n"
        "    def __init__(self):\n        self.items = []\n\n"
        "    def push(self, x):\n        self.items.append(x)\n\n"
        "    def top(self):\n        return self.items[0]\n\n\n"
        "class LinkedStack:\n"
        "    def __init__(self):\n        self.head = None\n\n"
        "    def push(self, x):\n        self.head = (x, self.head)\n\n"
        "    def top(self):\n        return self.head[0]\n"
    ),
    "tests/__init__.py": (
        "class StackTests:\n"
        "    Stack = None\n\n"
        "    def test_top(self):\n"
        "        s = self.Stack()\n"
        "        s.push(1)\n"
        "        s.push(2)\n"
        "        self.assertEqual(s.top(), 2)\n"
    ),
    "tests/test_list.py": (
        "import unittest\n\nimport stacks\n\nfrom . import StackTests\n\n\n"
        "class ListStackTest(unittest.TestCase, StackTests):\n    Stack = stacks.ListStack\n"
    ),
}


def test_a_mixin_test_uses_the_class_its_test_class_sets_in_another_file(tmp_path: Path) -> None:
    root = write(tmp_path, STACKS)
    report = build_report(pytest_log(root, "tests"))
    assert report.failing_tests == ["tests/test_list.py::ListStackTest::test_top"]
    assert [f.function for f in report.frames] == ["test_top"]

    context = build_context(root, report=report)

    assert symbols(context, 1) == ["ListStack.top"]  # `self.Stack` is ListStack in ListStackTest
    assert "LinkedStack.top" not in symbols(context, 10)


def test_frames_from_a_ci_runner_and_from_an_installed_copy_map_to_the_checkout(tmp_path: Path) -> None:
    """The log came from elsewhere: /home/runner/work/... paths, and the package installed in
    site-packages (a src/ layout); a dependency's frames stay out."""
    root = write(tmp_path / "repo", {f"src/{k}": v for k, v in CALC.items()} | {
        "tests/test_spread.py": CALC_TEST,
    })  # fmt: skip
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    write(site, CALC | {"other/__init__.py": "def helper(f, x):\n    return f(x)\n"})
    log = pytest_log(root, "--tb=native", "tests", pythonpath=str(site))
    log = log.replace(str(root), "/home/runner/work/calc/calc")
    assert "site-packages/calc/ops.py" in log

    context = build_context(root, report=build_report(log))

    assert [(loc.file, loc.symbol) for loc in context.locations[:2]] == [
        ("src/calc/ops.py", "_width"),
        ("src/calc/ops.py", "spread"),
    ]
    assert all(loc.file in ("src/calc/ops.py", "tests/test_spread.py") for loc in context.locations)


def test_a_syntax_error_points_at_the_broken_lines(tmp_path: Path) -> None:
    root = write(tmp_path, CALC | {
        "calc/broken.py": "def ok():\n    return 1\n\n\ndef bad(:\n    pass\n",
        "tests/test_b.py": "from calc.broken import ok\n\n\ndef test_ok():\n    assert ok() == 1\n",
    })  # fmt: skip
    report = build_report(pytest_log(root, "tests"))
    assert report.failure_class == "syntax_error"

    context = build_context(root, report=report)

    top = context.locations[0]
    assert (top.file, top.symbol) == ("calc/broken.py", None)  # a bare line range: it does not parse
    assert top.start_line <= 5 <= top.end_line
    assert context.outline["calc/broken.py"] == ["# not outlined: SyntaxError at line 5"]
    assert any(
        key.startswith("calc/broken.py:") and "def bad(:" in text for key, text in context.snippets.items()
    )


def test_nothing_from_the_checkout_is_imported_or_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    trap = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
    root = write(tmp_path / "repo", CALC | {"calc/__init__.py": trap + CALC["calc/__init__.py"],
                                            "conftest.py": trap, "setup.py": trap})  # fmt: skip
    log = "FAILED tests/test_x.py::test_add - assert -1 == 5\ncalc/ops.py:2: AssertionError\n"
    build_context(root, report=build_report(log), issue_text="`calc.ops.add` returns the difference")
    assert not marker.exists()


def test_the_context_is_json_and_within_its_budget(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}  # {'padding ' * 8}\n" for i in range(400))
    root = write(tmp_path, {
        "big.py": f"def huge(n):\n{body}    return 1 / n\n",
        "tests/test_big.py": "from big import huge\n\n\ndef test_huge():\n    assert huge(0)\n",
    })  # fmt: skip
    log = pytest_log(root, "tests")

    for budget in (300, 1500, 6000):
        data = context_json(root, log=log, budget_tokens=budget)
        assert json.loads(json.dumps(data)) == data
        assert data["budget"] == budget
        shown = sum(len(k) + len(v) for k, v in data["snippets"].items())
        shown += sum(len(k) + len("\n".join(v)) for k, v in data["outline"].items())
        assert data["tokens"] <= budget
        assert shown // 4 <= data["tokens"] + 2 * (len(data["snippets"]) + len(data["outline"]))
    text = next(iter(context_json(root, log=log)["snippets"].values()))
    assert "402      return 1 / n" in text  # a long function is shown around the failing line
    assert len(text.splitlines()) <= 60


def test_without_evidence_the_context_is_empty() -> None:
    context = build_context(
        Path(__file__).parent / "fixtures", report=FailureReport({"kind": "log"}, "unknown", False)
    )
    assert context.locations == []
    assert context.snippets == {}
    assert context.tokens == 0


@pytest.mark.parametrize("encoding", ["latin-1-cookie", "invalid-utf8"])
def test_files_that_are_not_utf8_are_read(tmp_path: Path, encoding: str) -> None:
    head = b"# -*- coding: latin-1 -*-\n" if encoding == "latin-1-cookie" else b""
    source = head + b"def greet(who):\n    return '\xe9t\xe9' + who + 1\n"
    root = write(tmp_path, {"greet.py": source, "tests/test_g.py": (
        "from greet import greet\n\n\ndef test_greet():\n    assert greet('x')\n")})  # fmt: skip
    log = (
        pytest_log(root, "tests")
        if encoding == "latin-1-cookie"
        else ("greet.py:2: in greet\nE   TypeError: can only concatenate str\n")
    )

    context = build_context(root, report=build_report(log))

    assert context.locations[0].symbol == "greet"
    start, end = context.locations[0].start_line, context.locations[0].end_line
    assert "return '\u00e9t\u00e9' + who + 1" in context.snippets[f"greet.py:{start}-{end}"]


def test_a_failing_doctest_points_at_its_function(tmp_path: Path) -> None:
    ops = CALC["calc/ops.py"].replace(
        "def mean(xs):\n", 'def mean(xs):\n    """\n    >>> mean([2, 4])\n    3.0\n    """\n'
    )
    root = write(tmp_path, CALC | {"calc/ops.py": ops})
    report = build_report(pytest_log(root, "--doctest-modules", "calc"))
    assert report.failing_tests == ["calc/ops.py::calc.ops.mean"]

    context = build_context(root, report=report)

    assert context.locations[0].symbol == "mean"
    assert "its doctest fails" in context.locations[0].why
    assert {"total", "add"} <= set(symbols(context, 4))


def test_a_property_read_on_the_failing_line(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "shapes.py": (
            "class Square:\n    def __init__(self, side):\n        self.side = side\n\n"
            "    @property\n    def area(self):\n        return self.side * 2\n\n"
            "    def grow(self):\n        self.side += 1\n"
        ),
        "tests/test_shapes.py": (
            "from shapes import Square\n\n\ndef test_area():\n    sq = Square(3)\n    assert sq.area == 9\n"
        ),
    })  # fmt: skip
    context = build_context(root, report=build_report(pytest_log(root, "tests")))
    assert symbols(context, 2) == ["Square.area", "Square.__init__"]
    assert "Square.grow" not in symbols(context, 10)


def test_a_file_too_big_to_parse_is_shown_by_lines(tmp_path: Path) -> None:
    filler = "".join(f"TABLE_{i} = {'x' * 60!r}\n" for i in range(30_000))  # ~2.3 MB
    root = write(tmp_path, {"gen.py": filler + "def lookup(k):\n    return TABLE[k]\n"})
    log = 'Traceback (most recent call last):\n  File "gen.py", line 30002, in lookup\nNameError: TABLE\n'

    context = build_context(root, report=build_report(log))

    top = context.locations[0]
    assert (top.file, top.symbol) == ("gen.py", None)
    assert top.start_line <= 30002 <= top.end_line
    assert context.outline["gen.py"][0].startswith("# not outlined:")
    assert "30002      return TABLE[k]" in "".join(context.snippets.values())
