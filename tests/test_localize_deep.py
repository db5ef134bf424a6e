"""Evidence for bugs several calls below a failing assertion: the operators and builtins that run a
class's special methods, methods picked by `getattr` with a built name, a subclass's override of a
hook, the test's in-place changes to what it checks, other objects' state, the failing test's name.
Pure functions over small source trees in tmp_path; one end-to-end run with real pytest."""

from __future__ import annotations

import ast
from pathlib import Path

from jobs.patch.calls import called, callees
from jobs.patch.localize import build_context
from jobs.patch.outline import Definition
from jobs.patch.state import attribute_reads, attribute_writers
from jobs.patch.symbols import RepoIndex
from jobs.patch.testnames import name_matches, own_name, words
from jobs.patch.testsource import slice_levels, statement_lines
from sandbox_runner.report import build_report
from tests.test_localize import pytest_log, symbols, write


def texts(code: str) -> list[str]:
    return [c.text for c in called(ast.parse(code))]


def test_builtins_and_operators_run_the_special_methods_of_a_plain_name() -> None:
    assert "c.__iter__" in texts("set(c)")
    assert "c.__iter__" in texts("sorted(c, key=k)")
    assert "d.__str__" in texts("str(d)")
    assert {"a.__mul__", "b.__rmul__"} <= set(texts("a * b"))
    assert "total.__iadd__" in texts("total += part")
    assert "x.__rsub__" in texts("1 - x")  # a literal on the left: only the right's reflected method
    assert not [t for t in texts("2 * 3") if "__" in t]


def test_getattr_with_a_built_name_is_a_call_of_every_method_it_may_name() -> None:
    assert "self._led_*" in texts("getattr(self, '_led_%s' % kind)")
    assert "self._led_*" in texts("getattr(self, '_led_' + kind, None)")
    assert "self._led_*" in texts("getattr(self, f'_led_{kind}')")
    assert "conv.to_*" in texts("getattr(conv, 'to_{}'.format(to))")
    assert not [t for t in texts("getattr(self, name)") if t.endswith("*")]  # nothing literal
    assert not [t for t in texts("getattr(self, 'x%s' % k)") if t.endswith("*")]  # too short to tell


PARSER: dict[str, str | bytes] = {
    "pkg/__init__.py": "",
    "pkg/parser.py": (
        "class Parser:\n"
        "    def expression(self, kind):\n"
        "        return getattr(self, '_led_%s' % kind)()\n"
        "\n"
        "    def _led_or(self):\n        return 'or'\n"
        "\n"
        "    def _led_and(self):\n        return 'and'\n"
        "\n"
        "    def _led_dot(self):\n        return 'dot'\n"
        "\n"
        "    def _led_pipe(self):\n        return 'pipe'\n"
        "\n"
        "    def helper(self):\n        return 1\n"
    ),
}


def defn(index: RepoIndex, path: str, qualname: str) -> Definition:
    src = index.source(path)
    assert src is not None
    return next(d for d in src.defs if d.qualname == qualname)


def test_a_dispatch_by_prefix_resolves_to_the_class_s_methods_so_named_sharing_the_weight(
    tmp_path: Path,
) -> None:
    index = RepoIndex.build(write(tmp_path, PARSER))
    src = index.source("pkg/parser.py")
    assert src is not None

    found = callees(index, src, defn(index, "pkg/parser.py", "Parser.expression"), {"pkg/parser.py"})

    names = sorted(c.definition.name for c in found)
    assert names == ["_led_and", "_led_dot", "_led_or", "_led_pipe"]  # not `helper`
    assert {round(c.share, 2) for c in found} == {0.5}  # 1/sqrt(4)


HOOKS: dict[str, str | bytes] = {
    "pkg/__init__.py": "",
    "pkg/base.py": (
        "class Base:\n"
        "    def render(self, n):\n        return self.word(n).title()\n"
        "\n"
        "    def word(self, n):\n        return str(n)\n"
    ),
    "pkg/english.py": (
        "from pkg.base import Base\n\n\n"
        "class English(Base):\n"
        "    def word(self, n):\n        return ['zero', 'one', 'two'][n - 1]\n"
    ),
}


def test_a_hook_called_on_self_resolves_to_the_subclass_overrides_in_play_too(tmp_path: Path) -> None:
    index = RepoIndex.build(write(tmp_path, HOOKS))
    src = index.source("pkg/base.py")
    assert src is not None
    render = defn(index, "pkg/base.py", "Base.render")

    alone = callees(index, src, render, {"pkg/base.py"})
    with_subclass = callees(index, src, render, {"pkg/base.py", "pkg/english.py"})

    assert [(c.path, c.definition.qualname) for c in alone] == [("pkg/base.py", "Base.word")]
    assert {(c.path, c.definition.qualname) for c in with_subclass} == {
        ("pkg/base.py", "Base.word"),
        ("pkg/english.py", "English.word"),
    }


def test_the_last_in_place_change_of_what_the_failing_line_reads_is_in_its_slice(tmp_path: Path) -> None:
    code = (
        "def test_barrel():\n"  # 1
        "    bl = Barrel(range(10))\n"  # 2
        "    bl.extend([1])\n"  # 3
        "    other = Barrel()\n"  # 4
        "    other.pop()\n"  # 5
        "    for i in range(3):\n"  # 6
        "        bl.insert(0, bl.pop(i))\n"  # 7
        "    self.check(bl)\n"  # 8 (a `self` statement is a check, not a change)
        "    assert len(bl) == 10\n"  # 9
    )
    node = ast.parse(code).body[0]
    test = Definition("test_barrel", "def", 1, 9, "def test_barrel():", 0, node)

    levels = slice_levels(test, statement_lines(test, 9))

    assert levels[0] == [(9, 9)]
    assert levels[1] == [(2, 2), (7, 7)]  # the assignment and the latest change, not `bl.extend`
    assert (5, 5) not in [span for level in levels for span in level]  # another object


def test_the_state_another_object_s_method_reads_points_at_where_it_is_written(tmp_path: Path) -> None:
    index = RepoIndex.build(write(tmp_path, {"cache.py": (
        "class Item:\n"
        "    def __init__(self, key):\n        self.key = key\n        self.removed = False\n"
        "\n\n"
        "class Cache:\n"
        "    def __init__(self):\n        self.items = []\n"
        "\n"
        "    def __iter__(self):\n"
        "        for item in self.items:\n"
        "            if not item.removed:\n                yield item.key\n"
        "\n"
        "    def drop(self, item):\n        item.removed = True\n"
    )}))  # fmt: skip
    src = index.source("cache.py")
    assert src is not None
    reader = defn(index, "cache.py", "Cache.__iter__")

    reads = attribute_reads(reader)
    writers = {d.qualname: share for d, share in attribute_writers(src, reader, reads)}

    assert reads == {"removed", "key"}  # `self.items` is the method's own state, not another's
    assert writers == {"Item.__init__": 1.0, "Cache.drop": 0.5}


def test_words_of_names_and_what_a_failing_test_s_name_points_at() -> None:
    assert words("test_multiple_dots") == {"multiple", "dot"}
    assert words("testParseHTTPHeader") == {"parse", "http", "header"}
    assert words("class_") == {"class"}  # a double s is not a plural

    def d(qualname: str) -> Definition:
        return Definition(qualname, "def", 1, 2, "", qualname.count("."), ast.Pass())

    assert own_name(d("TLRUCache._Item.__init__")) == "_Item"  # a constructor goes by its class
    assert own_name(d("Cache.__iter__")) == "__iter__"
    reached = [d("Parser._led_or"), d("Parser._led_dot"), d("or_expression"), d("Parser.parse")]
    matches = name_matches("test_or_expression", reached)
    assert matches["or_expression"] == 1.0  # every word of it is in the test's name
    assert 0.5 < matches["Parser._led_or"] < 1.0  # `or`, which two of them share
    assert set(matches) == {"or_expression", "Parser._led_or"}
    common = [d(f"Parser._led_or_{i}") for i in range(8)]
    assert name_matches("test_or", common) == {}  # a word too many functions share tells nothing


def test_a_bug_four_calls_below_an_assertion_named_by_the_test_is_ranked(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "calc/__init__.py": "",
        "calc/parse.py": (
            "from calc.tokens import tokenize\n\n\n"
            "class Parser:\n"
            "    def parse(self, text):\n        return self._expression(tokenize(text))\n"
            "\n"
            "    def _expression(self, tokens):\n"
            "        left = tokens[0]\n"
            "        for op, right in zip(tokens[1::2], tokens[2::2]):\n"
            "            left = getattr(self, '_led_%s' % op)(left, right)\n"
            "        return left\n"
            "\n"
            "    def _led_plus(self, left, right):\n        return left + right\n"
            "\n"
            "    def _led_minus(self, left, right):\n        return right - left\n"
            "\n"
            "    def _led_times(self, left, right):\n        return left * right\n"
            "\n"
            "    def _led_over(self, left, right):\n        return left / right\n"
        ),
        "calc/tokens.py": (
            "NAMES = {'+': 'plus', '-': 'minus', '*': 'times', '/': 'over'}\n\n\n"
            "def tokenize(text):\n"
            "    return [NAMES.get(t, t) if t in NAMES else int(t) for t in text.split()]\n"
        ),
        "tests/test_calc.py": (
            "from calc.parse import Parser\n\n\n"
            "def evaluate(text):\n    return Parser().parse(text)\n\n\n"
            "def test_plus():\n    assert evaluate('1 + 2') == 3\n\n\n"
            "def test_minus():\n    assert evaluate('7 - 4') == 3\n"
        ),
    })  # fmt: skip
    report = build_report(pytest_log(root, "tests"))
    assert report.failing_tests == ["tests/test_calc.py::test_minus"]
    assert [f.function for f in report.frames] == ["test_minus"]  # the assertion only

    context = build_context(root, report=report)

    assert "Parser._led_minus" in symbols(context, 5)
    where = next(loc for loc in context.locations if loc.symbol == "Parser._led_minus")
    assert "the failing test's name names it" in where.why
    assert "Parser._led_plus" not in symbols(context, 5)  # reached the same way, not named
