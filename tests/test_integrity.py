"""Test-integrity rules over real `git diff` output of candidate edits in a repository made in tmp_path."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.patch import testlines as tl
from jobs.patch.integrity import NOTE_PREFIX, check_integrity

CALC = """\
def add(a, b):
    return a - b


def ratio(a, b):
    return a / b


def parse(text):
    return int(text)
"""

TESTS = """\
import unittest

import pytest

from calc import add, parse, ratio


def test_add():
    result = add(2, 3)
    assert result == 5


def test_add_zero():
    assert add(0, 0) == 0
    assert add(1, 0) == 1


def test_ratio():
    assert ratio(1, 3) == pytest.approx(0.3333333, rel=1e-6)


def test_parse_rejects_words():
    with pytest.raises(ValueError):
        parse("five")


class TestCalc(unittest.TestCase):
    def test_add_method(self):
        self.assertEqual(add(2, 2), 4)

    def test_ratio_places(self):
        self.assertAlmostEqual(ratio(2, 3), 0.6667, places=4)
"""

JS_TEST = """\
const { add } = require('./calc');

test('adds', () => {
  expect(add(2, 3)).toBe(5);
});
"""

FAILING = ["tests/test_calc.py::test_add"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "tests" / "test_calc.py").write_text(TESTS)
    (tmp_path / "tests" / "calc.test.js").write_text(JS_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra\n")
    (tmp_path / "tests" / "expected_sum.json").write_text('{"sum": 5}\n')
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    return tmp_path


def edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        text = (root / path).read_text()
        assert old in text, old
        (root / path).write_text(text.replace(old, new, 1))

    return apply


def write(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(text)


def diff_of(repo: Path, *edits: Callable[[Path], None]) -> str:
    for change in edits:
        change(repo)
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "-M")


T = "tests/test_calc.py"
FIX = edit("calc.py", "    return a - b", "    return a + b")

ACCEPTED = {
    "the code fix": [FIX],
    "a new test": [
        FIX,
        edit(
            T, "class TestCalc", "def test_add_negative():\n    assert add(-1, -1) == -2\n\n\nclass TestCalc"
        ),
    ],
    "a stronger assertion in another test": [
        FIX,
        edit(T, "    assert add(1, 0) == 1\n", "    assert add(1, 0) == 1\n    assert add(0, 1) == 1\n"),
    ],
    "truthy to a comparison": [
        FIX,
        edit(
            T,
            "self.assertEqual(add(2, 2), 4)",
            "self.assertEqual(add(2, 2), 4)\n        self.assertTrue(add(2, 2) == 4)",
        ),
    ],
    "moved tests": [
        FIX,
        edit(T, "def test_add_zero():\n    assert add(0, 0) == 0\n    assert add(1, 0) == 1\n\n\n", ""),
        edit(
            T,
            "class TestCalc",
            "def test_add_zero():\n    assert add(0, 0) == 0\n    assert add(1, 0) == 1\n\n\nclass TestCalc",
        ),
    ],
    "a tighter tolerance": [FIX, edit(T, "rel=1e-6", "rel=1e-9")],
    "more places": [FIX, edit(T, "places=4", "places=6")],
    "a narrower exception": [
        FIX,
        edit(T, "pytest.raises(ValueError)", 'pytest.raises(ValueError, match="invalid literal")'),
    ],
    "docs that mention skipping": [FIX, write("README.md", "Use `@pytest.mark.skip` sparingly.\n")],
    "a note in the tests' readme": [FIX, write("tests/README.md", "How to run the tests.\n")],
    "new data for a new test": [FIX, write("tests/negative.json", '{"sum": -2}\n')],
    "a source assert removed": [
        FIX,
        edit("calc.py", "def parse(text):\n", "def parse(text):\n    assert text\n"),
    ],
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_honest_candidates_pass(repo: Path, name: str) -> None:
    result = check_integrity(diff_of(repo, *ACCEPTED[name]), FAILING)
    assert result.rejections == []
    assert result.notes == []


REJECTED: dict[str, tuple[list[Callable[[Path], None]], str]] = {
    "assertion deleted": (
        [edit(T, "    assert add(0, 0) == 0\n", "")],
        "removes an assertion from tests/test_calc.py: `assert add(0, 0) == 0`",
    ),
    "two assertions deleted": (
        [edit(T, "    assert add(0, 0) == 0\n    assert add(1, 0) == 1\n", "    pass\n")],
        "removes 2 assertions from tests/test_calc.py: `assert add(0, 0) == 0`; `assert add(1, 0) == 1`",
    ),
    "assertion commented out": (
        [edit(T, "    assert add(0, 0) == 0\n", "    # assert add(0, 0) == 0\n")],
        "removes an assertion from tests/test_calc.py: `assert add(0, 0) == 0`",
    ),
    "assert True": (
        [edit(T, "    assert add(1, 0) == 1", "    assert True")],
        "weakens an assertion in tests/test_calc.py: `assert add(1, 0) == 1` → `assert True`",
    ),
    "comparison to truthiness": (
        [edit(T, "    assert add(1, 0) == 1", "    assert add(1, 0)")],
        "weakens an assertion in tests/test_calc.py: `assert add(1, 0) == 1` → `assert add(1, 0)`",
    ),
    "assertEqual to assertTrue": (
        [edit(T, "self.assertEqual(add(2, 2), 4)", "self.assertTrue(add(2, 2))")],
        "weakens an assertion in tests/test_calc.py: `self.assertEqual(add(2, 2), 4)` → "
        "`self.assertTrue(add(2, 2))`",
    ),
    "approx widened": (
        [edit(T, "rel=1e-6", "rel=0.5")],
        "widens a tolerance to rel=0.5 in tests/test_calc.py",
    ),
    "approx tolerance added": (
        [edit(T, "pytest.approx(0.3333333, rel=1e-6)", "pytest.approx(0.3333333, abs=1)")],
        "widens a tolerance to abs=1 in tests/test_calc.py",
    ),
    "fewer places": (
        [edit(T, "places=4", "places=1")],
        "widens a tolerance to places=1 in tests/test_calc.py",
    ),
    "raises broadened": (
        [edit(T, "pytest.raises(ValueError)", "pytest.raises(Exception)")],
        "broadens an expected exception in tests/test_calc.py: `with pytest.raises(ValueError):` → "
        "`with pytest.raises(Exception):`",
    ),
    "skip mark": (
        [edit(T, "def test_add():", "@pytest.mark.skip(reason='flaky')\ndef test_add():")],
        "adds a skip or xfail to tests/test_calc.py: `@pytest.mark.skip(reason='flaky')`",
    ),
    "skipif mark": (
        [edit(T, "def test_add():", "@pytest.mark.skipif(True, reason='x')\ndef test_add():")],
        "adds a skip or xfail to tests/test_calc.py",
    ),
    "xfail mark": (
        [edit(T, "def test_add():", "@pytest.mark.xfail\ndef test_add():")],
        "adds a skip or xfail to tests/test_calc.py: `@pytest.mark.xfail`",
    ),
    "pytest.skip call": (
        [FIX, edit(T, "    with pytest.raises", "    pytest.skip('later')\n    with pytest.raises")],
        "adds a skip or xfail to tests/test_calc.py: `pytest.skip('later')`",
    ),
    "unittest skip": (
        [FIX, edit(T, "    def test_ratio_places", "    @unittest.skip('slow')\n    def test_ratio_places")],
        "adds a skip or xfail to tests/test_calc.py: `@unittest.skip('slow')`",
    ),
    "skipTest": (
        [
            FIX,
            edit(
                T,
                "        self.assertAlmostEqual",
                "        self.skipTest('x')\n        self.assertAlmostEqual",
            ),
        ],
        "adds a skip or xfail to tests/test_calc.py: `self.skipTest('x')`",
    ),
    "importorskip": (
        [FIX, edit(T, "import unittest\n", "import unittest\n\nnumpy = pytest.importorskip('numpy')\n")],
        "adds a skip or xfail to tests/test_calc.py: `numpy = pytest.importorskip('numpy')`",
    ),
    "pytestmark": (
        [FIX, edit(T, "import unittest\n", "import unittest\n\npytestmark = [pytest.mark.skip]\n")],
        "adds a skip or xfail to tests/test_calc.py",
    ),
    "jest skip": (
        [edit("tests/calc.test.js", "test('adds'", "test.skip('adds'")],
        "adds a skip or xfail to tests/calc.test.js",
    ),
    "jest expectation removed": (
        [edit("tests/calc.test.js", "  expect(add(2, 3)).toBe(5);\n", "")],
        "removes an assertion from tests/calc.test.js: `expect(add(2, 3)).toBe(5);`",
    ),
    "deselect in pytest.ini": (
        [edit("pytest.ini", "addopts = -ra", "addopts = -ra --deselect tests/test_calc.py::test_add")],
        "changes which tests run in pytest.ini: `addopts = -ra --deselect tests/test_calc.py::test_add`",
    ),
    "-k in pytest.ini": (
        [edit("pytest.ini", "addopts = -ra", 'addopts = -ra -k "not test_add"')],
        "changes which tests run in pytest.ini",
    ),
    "-k in pyproject": (
        [write("pyproject.toml", '[tool.pytest.ini_options]\naddopts = ["-k", "not add"]\n')],
        'changes which tests run in pyproject.toml: `addopts = ["-k", "not add"]`',
    ),
    "collect_ignore": (
        [write("tests/conftest.py", 'collect_ignore = ["test_calc.py"]\n')],
        'changes which tests run in tests/conftest.py: `collect_ignore = ["test_calc.py"]`',
    ),
    "conftest hook": (
        [
            write(
                "conftest.py",
                "def pytest_collection_modifyitems(config, items):\n"
                "    items[:] = [i for i in items if 'add' not in i.name]\n",
            )
        ],
        "adds the pytest hook pytest_collection_modifyitems in conftest.py, which can deselect or skip tests",
    ),
    "expected value edited": (
        [edit(T, "    assert result == 5", "    assert result == -1")],
        "edits the failing test tests/test_calc.py::test_add: "
        "`- assert result == 5`; `+ assert result == -1`",
    ),
    "failing test's input edited": (
        [edit(T, "    result = add(2, 3)", "    result = add(5, 0)")],
        "edits the failing test tests/test_calc.py::test_add: `- result = add(2, 3)`; `+ result = add(5, 0)`",
    ),
    "failing test deleted": (
        [edit(T, "def test_add():\n    result = add(2, 3)\n    assert result == 5\n\n\n", "")],
        "deletes the failing test tests/test_calc.py::test_add",
    ),
    "golden file edited": (
        [write("tests/expected_sum.json", '{"sum": -1}\n')],
        "changes test data: tests/expected_sum.json",
    ),
    "test file deleted": (
        [lambda root: (root / T).unlink()],
        "deletes the test file tests/test_calc.py",
    ),
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_cheating_candidates_are_rejected(repo: Path, name: str) -> None:
    edits, expected = REJECTED[name]
    result = check_integrity(diff_of(repo, *edits), FAILING)
    assert any(r.startswith(expected) for r in result.rejections), result.rejections
    assert result.notes == []


@pytest.mark.parametrize("name", list(REJECTED))
def test_when_the_test_is_wrong_every_edit_becomes_a_note(repo: Path, name: str) -> None:
    edits, expected = REJECTED[name]
    result = check_integrity(diff_of(repo, *edits), FAILING, test_is_wrong=True)
    assert result.rejections == []
    assert any(n.startswith(NOTE_PREFIX + expected) for n in result.notes), result.notes


def test_a_failing_method_in_a_class(repo: Path) -> None:
    diff = diff_of(repo, edit(T, "self.assertEqual(add(2, 2), 4)", "self.assertEqual(add(2, 2), 0)"))
    result = check_integrity(diff, ["tests/test_calc.py::TestCalc::test_add_method"])
    assert result.rejections == [
        "edits the failing test tests/test_calc.py::TestCalc::test_add_method: "
        "`- self.assertEqual(add(2, 2), 4)`; `+ self.assertEqual(add(2, 2), 0)`"
    ]
    # unittest's dotted id names the same test
    dotted = check_integrity(diff, ["tests.test_calc.TestCalc.test_add_method"])
    assert dotted.rejections == [
        r.replace("tests/test_calc.py::TestCalc::test_add_method", "tests.test_calc.TestCalc.test_add_method")
        for r in result.rejections
    ]


def test_edits_to_other_tests_are_not_edits_to_the_failing_one(repo: Path) -> None:
    diff = diff_of(repo, FIX, edit(T, "    assert add(1, 0) == 1", "    assert add(1, 0) == 1  # identity"))
    assert check_integrity(diff, FAILING).rejections == []
    # a parametrized id names the same function
    diff = diff_of(repo, edit(T, "    assert result == 5", "    assert result == 6"))
    assert (
        check_integrity(diff, ["tests/test_calc.py::test_add[1-2]"])
        .rejections[0]
        .startswith("edits the failing test tests/test_calc.py::test_add[1-2]")
    )


@pytest.mark.parametrize(
    ("line", "strength"),
    [
        ("assert x == 1", 2),
        ("assert x in y", 2),
        ("assert x is None", 2),
        ("assert x", 1),
        ("assert isinstance(x, int)", 1),
        ("self.assertEqual(a, b)", 2),
        ("self.assertIsNotNone(a)", 1),
        ("self.assertTrue(a)", 1),
        ("self.assertTrue(True)", 0),
        ("assert True", 0),
        ("assert 1", 0),
        ("assert not False", 0),
        ("assert True, 'always'", 0),
        ("expect(x).toBe(3);", 2),
        ("expect(x).toBeTruthy();", 1),
        ("expect(true).toBe(true);", 0),
        ("expect(fn).toThrow(TypeError);", 2),
        ("expect(fn).toThrow();", 1),
    ],
)
def test_assertion_strength(line: str, strength: int) -> None:
    assert tl.is_assertion(line)
    assert tl.strength(line) == strength


@pytest.mark.parametrize(
    ("removed", "added", "widened"),
    [
        (["x == approx(1, rel=1e-6)"], "x == approx(1, rel=1e-3)", "rel=1e-3"),
        (["x == approx(1, rel=1e-6)"], "x == approx(1, rel=1e-9)", None),
        (["x == approx(1)"], "x == approx(1, abs=0.1)", "abs=0.1"),
        (["assertAlmostEqual(a, b, places=7)"], "assertAlmostEqual(a, b, places=2)", "places=2"),
        (["assertAlmostEqual(a, b, places=2)"], "assertAlmostEqual(a, b, places=7)", None),
        (
            ["np.testing.assert_allclose(a, b, rtol=1e-7)"],
            "np.testing.assert_allclose(a, b, rtol=1e-2, atol=0)",
            "rtol=1e-2",
        ),
        ([], "assert_almost_equal(a, b, decimal=3)", None),
    ],
)
def test_widened_tolerance(removed: list[str], added: str, widened: str | None) -> None:
    assert tl.widened_tolerance(removed, added) == widened


LONG_METHOD = """\
import unittest

from calc import add


class TestLong(unittest.TestCase):
    def test_sum_of_many(self):
        total = 0
        for n in range(10):
            total = add(total, n)
        values = [add(1, 1), add(2, 2)]
        self.assertEqual(values, [2, 4])
        self.assertEqual(total, 45)

    def test_other(self):
        self.assertEqual(add(0, 0), 0)
"""
LONG = "tests/test_long.py"
LONG_ID = "tests/test_long.py::TestLong::test_sum_of_many"


@pytest.fixture
def long_repo(repo: Path) -> Path:
    (repo / LONG).write_text(LONG_METHOD)
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "long")
    return repo


def test_a_change_deep_in_a_long_method_needs_the_file(long_repo: Path, tmp_path: Path) -> None:
    diff = diff_of(long_repo, edit(LONG, "self.assertEqual(total, 45)", "self.assertEqual(total, 0)"))
    assert "@@ class TestLong(unittest.TestCase):" in diff  # git names the class, not the method
    assert check_integrity(diff, [LONG_ID]).rejections == []  # the hunk alone cannot tell
    expected = [
        f"edits the failing test {LONG_ID}: `- self.assertEqual(total, 45)`; `+ self.assertEqual(total, 0)`"
    ]
    # the checkout after the patch
    assert check_integrity(diff, [LONG_ID], repo_dir=str(long_repo)).rejections == expected
    # and before it
    before = tmp_path / "before"
    (before / "tests").mkdir(parents=True)
    (before / LONG).write_text(git(long_repo, "show", f"HEAD:{LONG}"))
    assert check_integrity(diff, [LONG_ID], repo_dir=str(before)).rejections == expected


def test_the_file_also_clears_a_sibling_test(long_repo: Path) -> None:
    diff = diff_of(
        long_repo, edit(LONG, "self.assertEqual(add(0, 0), 0)", "self.assertEqual(add(0, 0), 0, 'zero')")
    )
    assert check_integrity(diff, [LONG_ID], repo_dir=str(long_repo)).rejections == []
    assert check_integrity(
        diff, [LONG_ID.replace("test_sum_of_many", "test_other")], repo_dir=str(long_repo)
    ).rejections


def test_lines_added_at_the_end_of_the_failing_test(long_repo: Path) -> None:
    diff = diff_of(
        long_repo,
        edit(
            LONG,
            "        self.assertEqual(total, 45)\n",
            "        self.assertEqual(total, 45)\n        return\n",
        ),
    )
    assert check_integrity(diff, [LONG_ID], repo_dir=str(long_repo)).rejections == [
        f"edits the failing test {LONG_ID}: `+ return`"
    ]


def test_a_file_that_matches_neither_side_falls_back_to_the_hunks(long_repo: Path, tmp_path: Path) -> None:
    diff = diff_of(long_repo, edit(LONG, "        total = 0\n", "        total = 1\n"))
    other = tmp_path / "other"
    (other / "tests").mkdir(parents=True)
    (other / LONG).write_text("something else entirely\n")
    result = check_integrity(diff, [LONG_ID], repo_dir=str(other))
    assert result.rejections == [f"edits the failing test {LONG_ID}: `- total = 0`; `+ total = 1`"]
