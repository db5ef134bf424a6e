"""docs/RELIABILITY.md stays true: every checklist case has its row, every test a row names exists,
and every test written for a case in tests/reliability/ is named on the page.

Only the checklist part is read (everything above a "## Mechanisms" section, which another part of
the page owns)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "RELIABILITY.md"
# the checklist's sections and how many cases each has (79 in all)
SECTIONS = {"A": 11, "B": 6, "C": 10, "D": 5, "E": 9, "F": 9, "G": 7, "H": 6, "I": 8, "J": 4, "K": 4}
STATUSES = ("covered", "new", "partial", "planned", "manual")
_ROW = re.compile(
    r"^\| (?P<id>[A-K]\d{1,2}) \| (?P<expected>[^|]+) \| (?P<tests>.*) \| (?P<status>[^|]+) \|$"
)
_TEST_REF = re.compile(r"`(?P<module>tests/[\w/]+\.py)::(?P<name>\w+)`")
_MODULE_REF = re.compile(r"`(?P<module>tests/[\w/]+\.py)`")


def _checklist_text() -> str:
    text = DOC.read_text()
    return text.split("\n## Mechanisms", 1)[0]


def _rows() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in _checklist_text().splitlines():
        found = _ROW.match(line)
        if found:
            assert found["id"] not in rows, f"{found['id']} has two rows"
            rows[found["id"]] = found.groupdict()
    return rows


@cache
def _functions(module: str) -> frozenset[str]:
    tree = ast.parse((ROOT / module).read_text())
    return frozenset(
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    )


def test_every_case_has_one_row() -> None:
    expected = {f"{section}{n}" for section, count in SECTIONS.items() for n in range(1, count + 1)}
    assert len(expected) == 79
    assert set(_rows()) == expected


def test_every_status_is_one_of_the_legend() -> None:
    for case, row in _rows().items():
        assert row["status"].strip().startswith(STATUSES), f"{case}: {row['status']!r}"


def test_every_test_named_exists() -> None:
    missing = []
    for module, name in _TEST_REF.findall(_checklist_text()):
        if not (ROOT / module).is_file() or name not in _functions(module):
            missing.append(f"{module}::{name}")
    assert missing == []


def test_modules_named_alone_exist_unless_planned() -> None:
    for case, row in _rows().items():
        for module in _MODULE_REF.findall(row["tests"]):
            planned = row["status"].strip().startswith("planned")
            assert planned or (ROOT / module).is_file(), f"{case}: {module} does not exist"


def test_each_case_test_is_on_its_row() -> None:
    """A test named after a case (test_A4_…) is listed in that case's row, so none is forgotten."""
    rows = _rows()
    here = Path(__file__).parent
    for path in sorted(here.glob("test_*.py")):
        module = path.relative_to(ROOT).as_posix()
        for name in _functions(module):
            case = re.match(r"test_(?P<id>[A-K]\d{1,2})_", name)
            if case:
                assert f"`{module}::{name}`" in rows[case["id"]]["tests"], (
                    f"{name} is not on row {case['id']}"
                )


def test_a_new_case_test_is_actually_new_or_xfail() -> None:
    """A row that names a tests/reliability/ test for its own case says so in its status."""
    for case, row in _rows().items():
        own = re.search(rf"`tests/reliability/\w+\.py::test_{case}_", row["tests"])
        if own:
            assert row["status"].strip().startswith("new"), f"{case}: {row['status']!r}"
