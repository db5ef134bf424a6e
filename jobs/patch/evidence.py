"""Evidence besides frames and failing tests: a PR's changed lines, names in an error message,
functions a module calls when imported. Each adds weight to regions on the localizer's Board."""

from __future__ import annotations

import ast

from jobs.patch.calls import called, resolve_call
from jobs.patch.regions import Board
from jobs.patch.symbols import RepoIndex, is_test_path
from jobs.patch.textsearch import global_defs, message_names

CHANGED = 8.0  # a function a PR changed, when it changed 3 or fewer
IMPORT_TIME = 0.8


def add_changed_lines(index: RepoIndex, board: Board, changed: dict[str, list[tuple[int, int]]]) -> None:
    known = set(index.files)  # the checkout's own files only: a path never leads out of it
    spans = [(p, s, e) for p, ranges in changed.items() for s, e in ranges if p in known]
    weight = max(2.0, CHANGED * min(1.0, 3 / max(1, len(spans))))
    for path, start, end in spans:
        src = index.source(path)
        if src is None:
            continue
        hit = False
        for d in src.defs:
            if (
                d.start <= end
                and start <= d.end
                and not any(c.start <= end and start <= c.end and c.depth > d.depth for c in src.defs)
            ):
                board.add_def(path, d, weight, "changed by the PR", start)
                hit = True
        if not hit:
            board.add_line(src, start, weight, "changed by the PR")


def add_message_names(index: RepoIndex, board: Board, text: str, weight: float, why: str) -> None:
    in_play = board.files()
    for name in message_names(text):
        hits = []
        for path in sorted(in_play):
            src = index.source(path)
            hits += [(path, d) for d in (src.named(name) if src else [])]
        if not hits and "." not in name:
            hits = global_defs(index, name, limit=3)
        for path, d in hits[:4]:
            board.add_def(
                path,
                d,
                weight / (2 if d.kind == "class" else 1) / len(hits[:4]) ** 0.5,
                why,
            )


def add_import_time_calls(index: RepoIndex, board: Board) -> None:
    """Functions a module in play calls at import (tables built by calls at module level): the
    code that ran first, whatever the test."""
    for path in sorted(board.files()):
        src = index.source(path)
        if src is None or is_test_path(path) or not isinstance(src.tree, ast.Module):
            continue
        top = [
            n
            for n in src.tree.body
            if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        seen: set[str] = set()
        for node in top:
            for call in called(node):
                for found_path, d in (
                    resolve_call(index, src, src.defs[0], call, {path})[:1] if src.defs else []
                ):
                    if d.kind == "def" and d.qualname not in seen and found_path == path:
                        seen.add(d.qualname)
                        board.add_def(path, d, IMPORT_TIME, "called when its module is imported")
