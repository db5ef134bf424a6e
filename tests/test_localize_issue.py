"""Localization from an issue's text and from a PR's changed lines, on a small project in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.patch.issue_evidence import parse_text_evidence, parse_traceback_frames
from jobs.patch.localize import build_context
from jobs.patch.symbols import RepoIndex
from jobs.patch.testsource import resolve_test_id
from sandbox_runner.report import build_report
from tests.test_localize import CALC, write

MORE = {
    "calc/report.py": (
        "from calc.ops import mean\n\n\n"
        "class Summary:\n"
        "    def __init__(self, xs):\n"
        "        self.xs = xs\n\n"
        "    def render_table(self):\n"
        "        return f'mean={mean(self.xs)}'\n"
    ),
    "calc/parsing.py": "def parse_numbers(text):\n    return [int(t) for t in text.split(',')]\n",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write(tmp_path, CALC | MORE)


def top(context_symbols: list[str | None], n: int = 3) -> list[str | None]:
    return context_symbols[:n]


def test_a_traceback_pasted_in_an_issue_from_an_installed_copy(root: Path) -> None:
    issue = """It crashes for me

```
Traceback (most recent call last):
  File "/home/me/app.py", line 3, in <module>
    print(calc.spread([1, 2]))
  File "/home/me/.venv/lib/python3.12/site-packages/calc/ops.py", line 17, in spread
    return _width(max(xs), min(xs))
  File "/home/me/.venv/lib/python3.12/site-packages/calc/ops.py", line 21, in _width
    return (hi - lo) / 0
ZeroDivisionError: division by zero
```
"""
    context = build_context(root, issue_text=issue)
    assert [loc.symbol for loc in context.locations[:2]] == ["_width", "spread"]
    assert any("issue's traceback" in why for why in context.locations[0].why)
    named = build_context(root, issue_text="spread() crashes\n" + issue)
    assert {loc.symbol for loc in named.locations[:2]} == {"_width", "spread"}


def test_names_and_paths_quoted_in_an_issue(root: Path) -> None:
    issue = "`Summary.render_table` shows the wrong mean; I think calc/ops.py:8 is off."
    context = build_context(root, issue_text=issue)
    found = {loc.symbol: loc.why for loc in context.locations[:4]}
    assert "named in the issue" in found["Summary.render_table"]
    assert "path and line quoted in the issue" in found["total"]  # line 8 is in total()


def test_words_of_an_issue_find_symbols_by_name(root: Path) -> None:
    context = build_context(root, issue_text="Parsing numbers fails when the text has spaces")
    assert context.locations[0].symbol == "parse_numbers"
    assert "shares words with the issue" in context.locations[0].why


def test_a_dotted_name_resolves_through_re_exports(root: Path) -> None:
    context = build_context(root, issue_text="calc.mean gives wrong results")  # re-exported by calc/__init__
    assert context.locations[0].symbol == "mean"
    assert context.locations[0].why[0] == "named in the issue"


def test_the_lines_a_pr_changed_are_the_likeliest_culprit(root: Path) -> None:
    context = build_context(root, changed_lines={"calc/ops.py": [(2, 2)], "README.md": [(1, 3)]})
    assert [(loc.symbol, loc.why) for loc in context.locations] == [("add", ["changed by the PR"])]

    log = "calc/report.py:9: in render_table\n    return 1/0\nE   ZeroDivisionError: division by zero\n"
    context = build_context(root, report=build_report(log), changed_lines={"calc/ops.py": [(12, 13)]})
    assert {"mean", "Summary.render_table"} <= {loc.symbol for loc in context.locations[:3]}


def test_parse_text_evidence() -> None:
    ev = parse_text_evidence(
        "In `pkg.util.slugify()` see src/pkg/util.py:42 and tests/test_util.py, also CamelCase "
        "and snake_case_name; parse_date( fails"
    )
    assert ("src/pkg/util.py", 42) in ev.paths
    assert ("tests/test_util.py", None) in ev.paths
    assert ev.identifiers[:2] == ["pkg.util.slugify", "pkg.util"] or "pkg.util.slugify" in ev.identifiers
    assert {"CamelCase", "snake_case_name", "parse_date"} <= set(ev.identifiers)
    assert "the" not in ev.words
    assert {"slugify", "camel", "case"} <= ev.words


@pytest.mark.parametrize(
    ("test_id", "expected"),
    [
        ("tests/t.py::test_f", ("tests/t.py", "test_f")),
        ("tests/t.py::TestC::test_m[a::b-/x]", ("tests/t.py", "TestC.test_m")),
        ("/home/runner/work/r/r/tests/t.py::TestC::test_m", ("tests/t.py", "TestC.test_m")),
        ("test_m (tests.t.TestC)", ("tests/t.py", "TestC.test_m")),
        ("test_m (tests.t.TestC.test_m)", ("tests/t.py", "TestC.test_m")),
        ("tests.t.TestC.test_m", ("tests/t.py", "TestC.test_m")),
        ("tests/t.py::Sub::test_m", ("tests/t.py", "TestC.test_m")),  # inherited
        ("tests/t.py::test_missing", ("tests/t.py", None)),
        ("elsewhere.py::test_f", None),
    ],
)
def test_resolve_test_ids(tmp_path: Path, test_id: str, expected: tuple[str, str | None] | None) -> None:
    write(tmp_path, {"tests/t.py": (
        "def test_f():\n    pass\n\n\nclass TestC:\n    def test_m(self):\n        pass\n\n\n"
        "class Sub(TestC):\n    pass\n"
    )})  # fmt: skip
    found = resolve_test_id(RepoIndex.build(tmp_path), test_id)
    got = None if found is None else (found[0], found[1].qualname if found[1] else None)
    assert got == expected


def test_odd_evidence_and_odd_files_do_not_break_it(root: Path) -> None:
    write(root, {
        "deep.py": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",  # too deep for the parser
        "bin.py": bytes(range(256)) * 4,
        "calc/empty.py": "",
    })  # fmt: skip
    log = (
        "FAILED tests/nowhere.py::T::test[x] - boom\n"
        "calc/ops.py:99999: in add\n"
        'File "calc/empty.py", line 3, in f\n'
        "deep.py:1: RecursionError\n"
        "bin.py:2: ValueError\n"
    )
    issue = '`calc.ops.` `..` calc/ops.py:0 ```\nTraceback (most recent call last):\n  File "x", line 1\n'
    context = build_context(
        root, report=build_report(log), issue_text=issue, changed_lines={"bin.py": [(1, 9)]}
    )
    assert context.tokens <= context.budget
    assert {loc.file for loc in context.locations} <= {"calc/ops.py", "calc/empty.py", "deep.py", "bin.py"}
    assert context.outline.get("deep.py", ["# not outlined: RecursionError"])[0].startswith("# not outlined")


def test_changed_paths_outside_the_checkout_are_ignored(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.py"
    outside.write_text("def secret():\n    return 's3cr3t-value'\n")
    context = build_context(root, changed_lines={str(outside): [(1, 2)], f"../{outside.name}": [(1, 2)]})
    assert context.locations == []
    assert "s3cr3t" not in str(context.to_json())


def test_a_pasted_ci_log_traceback_is_read_through_its_timestamps_and_colours() -> None:
    pasted = (
        "2026-11-21T05:00:01.1234567Z Traceback (most recent call last):\n"
        '2026-11-21T05:00:01.1234567Z   File "/home/runner/work/app/app/calc/stats.py", line 3, in mean\n'
        "2026-11-21T05:00:01.1234567Z     return sum(xs) / len(xs)\n"
        "2026-11-21T05:00:01.1234567Z \x1b[31mZeroDivisionError\x1b[0m: division by zero\n"
    )
    (frame,) = parse_traceback_frames(pasted)
    assert (frame.file.endswith("calc/stats.py"), frame.line, frame.function) == (True, 3, "mean")
