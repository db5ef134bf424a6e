"""Spectrum-based evidence: Ochiai scores from a trace, and localization with a real traced pytest run."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jobs.patch.localize import build_context
from jobs.patch.spectrum import from_trace, ochiai, qualname
from sandbox_runner.report import FailureReport, build_report
from tests.sandbox_support import PYTHON
from tests.test_tracer import run_traced, write


def trace(
    tests: list[tuple[str, str, list[int]]], functions: list[list[Any]], outside: list[int] | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "functions": functions,
        "tests": [{"id": i, "outcome": o, "functions": f} for i, o, f in tests],
        "outside": outside or [],
        "truncated": False,
    }


FUNCS = [["m.py", "f", 1], ["m.py", "g", 5], ["m.py", "g.<locals>.<lambda>", 6], ["m.py", "<module>", 1]]


def test_ochiai() -> None:
    assert ochiai(2, 0, 2) == 1.0
    assert ochiai(1, 3, 2) == pytest.approx(1 / math.sqrt(2 * 4))
    assert ochiai(0, 5, 2) == 0.0
    assert ochiai(1, 0, 0) == 0.0


@pytest.mark.parametrize(
    ("co_qualname", "expected"),
    [
        ("Box.double", "Box.double"),
        ("make.<locals>.inner", "make.inner"),
        ("g.<locals>.<lambda>", "g"),
        ("A.m.<locals>.<listcomp>", "A.m"),
        ("<module>", None),
    ],
)
def test_qualname_as_outline_spells_it(co_qualname: str, expected: str | None) -> None:
    assert qualname(co_qualname) == expected


def test_counts_per_function_from_the_tests_outcomes() -> None:
    data = trace(
        [
            ("t1", "failed", [0, 1, 3]),
            ("t2", "passed", [0]),
            ("t3", "passed", [0, 1]),
            ("t4", "skipped", [1]),
        ],
        FUNCS,
    )
    spectrum = from_trace(data)
    assert spectrum is not None
    assert (spectrum.total_failed, spectrum.total_passed, spectrum.failing_tests) == (1, 2, ("t1",))
    assert spectrum.counts == {("m.py", "f", 1): (1, 2), ("m.py", "g", 5): (1, 1)}
    assert spectrum.scores() == {
        ("m.py", "f", 1): pytest.approx(1 / math.sqrt(3)),
        ("m.py", "g", 5): pytest.approx(1 / math.sqrt(2)),
    }


def test_a_test_known_to_fail_counts_as_failing_and_none_without_one() -> None:
    data = trace([("t1", "passed", [0]), ("t2", "passed", [1])], FUNCS)
    assert from_trace(data) is None
    spectrum = from_trace(data, failing=["t2"])
    assert spectrum is not None
    assert spectrum.scores() == {("m.py", "g", 5): 1.0}
    assert from_trace(None) is None
    assert from_trace({"version": 2}) is None


def test_resolve_counts_a_lambda_once_with_its_function() -> None:
    data = trace([("t1", "failed", [1, 2]), ("t2", "passed", [2])], FUNCS, outside=[0])
    spectrum = from_trace(data, resolve=lambda key: (key[0], key[1]))
    assert spectrum is not None
    assert spectrum.counts == {("m.py", "g"): (1, 1)}
    assert spectrum.outside == frozenset({("m.py", "f")})


# A bug behind data-driven dispatch: the failing test calls `render`, which picks a handler from a
# table; nothing static says which handler ran. Many plausible functions sit on the test's path.
FORMATS = (
    "from pkg import text\n\n\n"
    "def _upper(s):\n    return text.clean(s).upper()\n\n\n"
    "def _lower(s):\n    return text.clean(s).lower()\n\n\n"
    "def _title(s):\n    return text.clean(s).title() + ' '\n\n\n"
    "HANDLERS = {'upper': _upper, 'lower': _lower, 'title': _title}\n\n\n"
    "def render(kind, s):\n    check(kind)\n    return text.wrap(HANDLERS[kind](s))\n\n\n"
    "def check(kind):\n    if kind not in HANDLERS:\n        raise ValueError(kind)\n\n\n"
    "def unused_title(s):\n    return s.title()\n"
)
TEXT = (
    "def clean(s):\n    return s.strip()\n\n\n"
    "def wrap(s):\n    return s\n\n\n"
    "def title_case(words):\n    return [w.title() for w in words]\n"
)
TESTS = (
    "from pkg.formats import render\n\n\n"
    "def test_upper():\n    assert render('upper', ' ab ') == 'AB'\n\n\n"
    "def test_lower():\n    assert render('lower', ' AB ') == 'ab'\n\n\n"
    "def test_title():\n    assert render('title', ' ab cd ') == 'Ab Cd'\n"
)


def ranks(context: dict[str, Any]) -> dict[str, int]:
    return {
        loc["symbol"]: i + 1
        for i, loc in enumerate(context["locations"])
        if not loc["file"].startswith("tests/")
    }


def write_project(tmp_path: Path) -> Path:
    files = {"pkg/__init__.py": "", "pkg/formats.py": FORMATS, "pkg/text.py": TEXT, "tests/test_f.py": TESTS}
    return write(tmp_path / "proj", files | {"pytest.ini": "[pytest]\n"})


def failing_report(project: Path) -> FailureReport:
    """What a CI log of the project's suite says failed (plain pytest, no trace)."""
    log = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return build_report(log)


def test_the_trace_puts_the_handler_the_failing_test_ran_first(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    code, data = run_traced(project, tmp_path / "home" / "trace.json")
    assert code == 1
    report = failing_report(project)
    assert report.failing_tests == ["tests/test_f.py::test_title"]
    static = build_context(project, report=report).to_json()
    traced = build_context(project, report=report, trace=data).to_json()
    with_trace, without = ranks(traced), ranks(static)
    assert with_trace["_title"] == 1
    assert with_trace["_title"] < without.get("_title", 99)
    why = next(loc["why"] for loc in traced["locations"] if loc["symbol"] == "_title")
    assert "run by 1 of 1 failing tests and 0 passing ones" in why
    # what the failing test did not run falls behind what it ran, whatever its static evidence
    scores = {loc["symbol"]: loc["score"] for loc in traced["locations"]}
    ran = {"_title", "render", "check", "clean", "wrap"}
    for symbol in {s for s in scores if s and not s.startswith("test_")} - ran:
        assert scores[symbol] < min(scores[s] for s in ran if s in scores), symbol


def test_without_a_failing_test_in_the_trace_the_ranking_is_the_static_one(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    report = failing_report(project)
    passing_only = trace([("tests/test_f.py::test_upper", "passed", [0])], [["pkg/formats.py", "_upper", 4]])
    assert (
        build_context(project, report=report, trace=passing_only).to_json()["locations"]
        == build_context(project, report=report).to_json()["locations"]
    )


def test_suspicion_prefers_what_every_failing_test_ran() -> None:
    # g: both failing tests and 3 passing ones; f: one failing test and no passing one
    data = trace(
        [("t1", "failed", [0, 1]), ("t2", "failed", [1]), *[(f"p{i}", "passed", [1]) for i in range(3)]],
        FUNCS,
    )
    spectrum = from_trace(data)
    assert spectrum is not None
    f, g = ("m.py", "f", 1), ("m.py", "g", 5)
    assert spectrum.ochiai(f) == pytest.approx(1 / math.sqrt(2))  # Ochiai alone puts f first
    assert spectrum.ochiai(g) == pytest.approx(2 / math.sqrt(2 * 5))
    assert spectrum.suspicion(f) == pytest.approx(0.5 / math.sqrt(2))
    assert spectrum.suspicion(g) == pytest.approx(2 / math.sqrt(10))
    assert spectrum.suspicion(g) > spectrum.suspicion(f)
