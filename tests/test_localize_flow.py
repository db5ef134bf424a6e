"""Localization evidence that follows values rather than frames: the functions whose results a
function returns, the function that bound a callback before it failed, and the function whose text
templates make up a wrong output. Small projects in tmp_path, their tests run with real pytest."""

from __future__ import annotations

from pathlib import Path

from jobs.patch.localize import build_context
from sandbox_runner.report import build_report
from tests.test_localize import pytest_log, symbols, write

REPORT = {
    "report/__init__.py": "",
    "report/render.py": (
        "def render(items):\n"
        "    lines = [_header(items)]\n"
        "    for i, item in enumerate(_visible(items)):\n"
        "        lines.append(_line(i, item))\n"
        "    lines.append(_footer(items))\n"
        "    return _join(lines)\n"
        "\n\n"
        "def _header(items):\n"
        "    return 'Order'\n"
        "\n\n"
        "def _visible(items):\n"
        "    return [x for x in items if x['qty']]\n"
        "\n\n"
        "def _footer(items):\n"
        "    return 'Total: %d' % sum(x['qty'] for x in items)\n"
        "\n\n"
        "def _join(lines):\n"
        "    return '\\n'.join(lines)\n"
        "\n\n"
        "def _line(i, item):\n"
        "    return 'item %d: %s (quantity %d)' % (i + 2, item['name'], item['qty'])\n"
    ),
    "tests/test_render.py": (
        "from report.render import render\n\n\n"
        "def test_render():\n"
        "    got = render([{'name': 'pen', 'qty': 2}])\n"
        "    assert got == 'Order\\nitem 1: pen (quantity 2)\\nTotal: 2'\n"
    ),
}


def test_the_function_whose_template_is_in_the_wrong_output_is_a_suspect(tmp_path: Path) -> None:
    root = write(tmp_path, REPORT)
    report = build_report(pytest_log(root, "tests"))
    assert report.exception_type == "AssertionError"
    assert "(quantity 2)" in report.excerpt  # in the explanation; the message is cut short

    context = build_context(root, report=report)

    line = next(loc for loc in context.locations if loc.symbol == "_line")
    assert "writes text the failure's message shows" in line.why
    assert symbols(context, 2) == ["render", "_line"]  # above its siblings, called the same way
    header = next(loc for loc in context.locations if loc.symbol == "_header")
    assert "writes text the failure's message shows" not in header.why  # one word is no template
    assert header.score < line.score


def test_only_the_reported_failure_s_explanation_is_searched_for_templates(tmp_path: Path) -> None:
    files = dict(REPORT)
    files["report/render.py"] += "\n\ndef title(name):\n    return '** %s **' % name.upper()\n"
    files["tests/test_render.py"] = (
        files["tests/test_render.py"].replace("import render", "import render, title")
        + "\n\ndef test_title():\n    assert title('a') == '** a **'\n"
    )
    root = write(tmp_path, files)
    report = build_report(pytest_log(root, "tests"))
    assert len(report.failing_tests) == 2
    assert "** A **" in report.excerpt
    assert report.failing_tests[0].endswith("::test_render")

    context = build_context(root, report=report)

    line = next(loc for loc in context.locations if loc.symbol == "_line")
    assert "writes text the failure's message shows" in line.why  # as with one failure
    title = next((loc for loc in context.locations if loc.symbol == "title"), None)
    assert title is None or "writes text the failure's message shows" not in title.why


CONVERT = {
    "conv/__init__.py": "",
    "conv/reader.py": (
        "from functools import partial\n\n\n"
        "def to_date(text, order):\n"
        "    parts = text.split('-')\n"
        "    return tuple(int(parts[i]) for i in order)\n"
        "\n\n"
        "def to_int(text):\n"
        "    return int(text)\n"
        "\n\n"
        "def _converters(kind):\n"
        "    if kind == 'ymd':\n"
        "        return {'n': to_int, 'date': partial(to_date, order=(0, 1, 3))}\n"
        "    return {'n': to_int, 'date': partial(to_date, order=(2, 1, 0))}\n"
        "\n\n"
        "class Reader:\n"
        "    def __init__(self, kind):\n"
        "        self._check(kind)\n"
        "        self.table = _converters(kind)\n"
        "\n"
        "    def _check(self, kind):\n"
        "        if kind not in ('ymd', 'dmy'):\n"
        "            raise ValueError(kind)\n"
        "\n"
        "    def read(self, field, text):\n"
        "        return self.table[field](text)\n"
        "\n\n"
        "def first_year(texts):\n"
        "    return to_date(texts[0], (0,))\n"
    ),
    "tests/test_reader.py": (
        "from conv.reader import Reader\n\n\n"
        "def test_read_date():\n"
        "    assert Reader('ymd').read('date', '2020-01-02') == (2020, 1, 2)\n"
    ),
}


def test_a_function_called_through_a_table_points_at_where_it_was_bound(tmp_path: Path) -> None:
    root = write(tmp_path, CONVERT)
    report = build_report(pytest_log(root, "tests"))
    assert report.exception_type == "IndexError"
    assert [f.function for f in report.frames][-3:-1] == ["read", "to_date"]  # then its generator

    context = build_context(root, report=report)

    assert symbols(context, 1) == ["to_date"]
    setup = next(loc for loc in context.locations if loc.symbol == "_converters")
    assert any(why.startswith("binds the innermost frame's function") for why in setup.why)
    assert "_converters" in symbols(context, 4)
    check = next(loc for loc in context.locations if loc.symbol == "Reader._check")
    assert setup.score > check.score  # both run by the constructor; only one binds `to_date`
    other = next((loc for loc in context.locations if loc.symbol == "first_year"), None)
    assert other is None or not any(why.startswith("binds") for why in other.why)  # it calls, not binds


def test_a_direct_caller_frame_is_not_second_guessed_by_bindings(tmp_path: Path) -> None:
    test = (
        "from conv.reader import first_year\n\n\n"
        "def test_year():\n    assert first_year(['2020']) == (2020,)\n"
    )
    files = CONVERT | {"tests/test_reader.py": test}
    files["conv/reader.py"] = files["conv/reader.py"].replace("(texts[0], (0,))", "(texts[0], (1,))")
    root = write(tmp_path, files)
    report = build_report(pytest_log(root, "tests"))
    assert report.exception_type == "IndexError"

    context = build_context(root, report=report)

    assert symbols(context, 2) == ["to_date", "first_year"]
    assert not any(why.startswith("binds") for loc in context.locations for why in loc.why)


SUMMARY = {
    "stats/__init__.py": "",
    "stats/summary.py": (
        "LOG = []\n\n\n"
        "def summary(xs):\n"
        "    _log(xs)\n"
        "    _check(xs)\n"
        "    total = _total(xs)\n"
        "    return _fmt(total)\n"
        "\n\n"
        "def _log(xs):\n"
        "    LOG.append(len(xs))\n"
        "\n\n"
        "def _check(xs):\n"
        "    if not xs:\n"
        "        raise ValueError('empty')\n"
        "\n\n"
        "def _total(xs):\n"
        "    return sum(xs) + 1\n"
        "\n\n"
        "def _fmt(n):\n"
        "    return str(n)\n"
    ),
    "tests/test_summary.py": (
        "from stats.summary import summary\n\n\ndef test_summary():\n    assert summary([1, 2]) == '3'\n"
    ),
}


def test_what_a_function_returns_outranks_what_it_only_calls(tmp_path: Path) -> None:
    root = write(tmp_path, SUMMARY)
    report = build_report(pytest_log(root, "tests"))

    context = build_context(root, report=report)

    score = {loc.symbol: loc.score for loc in context.locations}
    assert symbols(context, 1) == ["summary"]
    assert score["_total"] == score["_fmt"] > score["_log"] == score["_check"]  # the value flows back
