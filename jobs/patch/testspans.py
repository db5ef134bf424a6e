"""Which lines of a diff fall inside a given test function, with the file at hand. Pure.

A hunk's own context does not always show the `def` it sits in (a long test method; git's default
function-context header names the class, not the method). With the file's text — before or after
the patch, whichever the hunks match — `ast` gives each function's line span, and the hunks' line
numbers say what changed inside it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from sandbox_runner.gitdiff import FilePatch, Hunk

Span = tuple[int, int, int]  # first line (decorators included), last line, the `def` line's indentation


def function_spans(source: str) -> dict[str, Span]:
    """`qualname` → span for every function and method (`test_add`, `TestCalc.test_add`)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    spans: dict[str, Span] = {}

    def visit(nodes: Iterable[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if not isinstance(node, ast.ClassDef):
                    spans[prefix + node.name] = (first, node.end_lineno or node.lineno, node.col_offset)
                visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")
    return spans


def _side_lines(hunk: Hunk, keep: str) -> list[str]:
    return [ln[1:] for ln in hunk.lines if ln[:1] in (" ", keep)]


def matching_side(f: FilePatch, source: str) -> str | None:
    """ "-" when `source` is the file before the patch, "+" when after, None when neither fits."""
    lines = source.split("\n")
    for side in ("-", "+"):
        ok = True
        for h in f.hunks:
            expected = _side_lines(h, side)
            start = (h.old_start if side == "-" else h.new_start) - 1
            start += not expected  # an empty side names the line before it
            if lines[start : start + len(expected)] != expected:
                ok = False
                break
        if ok and f.hunks:
            return side
    return None


def changes_within(f: FilePatch, side: str, span: Span) -> list[str]:
    """The changed lines (with their `+`/`-`) that fall inside `span` of the `side` version of the file."""
    first, last, indent = span
    found = []
    for h in f.hunks:
        here = h.old_start if side == "-" else h.new_start
        here += not _side_lines(h, side)
        for ln in h.lines:
            kind, text = ln[:1], ln[1:]
            if kind == "\\":
                continue
            if kind in (" ", side):
                if kind == side and first <= here <= last and text.strip():
                    found.append(f"{kind} {text.strip()}")
                here += 1
            elif text.strip():  # a line of the other side sits between here - 1 and here
                deeper = len(text) - len(text.lstrip()) > indent
                if first <= here - 1 < last or (here - 1 == last and deeper):
                    found.append(f"{kind} {text.strip()}")
    return found
