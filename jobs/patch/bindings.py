"""Who configured the function that failed, when its caller did not name it: a function reached
through a table or a callback (`conv[k] = partial(convert, group=n + 1)`, `handlers[t] = self.on_x`)
got its arguments where it was bound, so the functions that take it as a value, without calling it,
are evidence too. Read with `ast` only."""

from __future__ import annotations

import ast

from jobs.patch.calls import called
from jobs.patch.outline import Definition, SourceFile
from jobs.patch.regions import Board
from jobs.patch.symbols import RepoIndex, is_test_path
from sandbox_runner.failure import Frame

BINDER = 5.0  # half the innermost frame's: it set up the arguments, as a caller does; 1/sqrt(n) each
MAX_BINDERS = 4  # bound in more places: a common callback, no evidence of one


def calls_by_name(caller: Definition, line: int, name: str) -> bool:
    """Whether `caller`'s `line` calls something named `name` (`name(...)`, `x.name(...)`)."""
    return any(
        c.text.rsplit(".", 1)[-1] == name and not c.attribute for c in called(caller.node, (line, line))
    )


def _bound_here(d: Definition, name: str) -> bool:
    """`name` (or `self.name`/`x.name`) used as a value in `d`, not as the thing called."""
    callee_ids = {id(n.func) for n in ast.walk(d.node) if isinstance(n, ast.Call)}
    for n in ast.walk(d.node):
        if id(n) in callee_ids:
            continue
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
            return True
        if isinstance(n, ast.Attribute) and n.attr == name and isinstance(n.ctx, ast.Load):
            return True
    return False


def binders(index: RepoIndex, files: set[str], target: Definition) -> list[tuple[str, Definition]]:
    """The innermost non-test functions in `files` that use `target` as a value."""
    found: list[tuple[str, Definition]] = []
    for path in sorted(files):
        src: SourceFile | None = index.source(path)
        if src is None or is_test_path(path):
            continue
        hits = [d for d in src.defs if d.kind == "def" and d != target and _bound_here(d, target.name)]
        found += [
            (path, d)
            for d in hits
            if not any(o is not d and o.start >= d.start and o.end <= d.end for o in hits)
            and not (d.start <= target.start and target.end <= d.end)
        ]
    return found


def add_binders(
    index: RepoIndex, board: Board, path: str, target: Definition, scale: float, why: str
) -> None:
    found = binders(index, board.files() | {path}, target)
    if not found or len(found) > MAX_BINDERS:
        return
    for where, d in found:
        board.add_def(where, d, BINDER * scale / len(found) ** 0.5, why)


def add_indirect_call(index: RepoIndex, board: Board, frames: list[Frame], scale: float, what: str) -> None:
    """When the innermost project function was called through a table or callback (its caller's
    line does not name it), the functions that bound it as a value set up its arguments."""
    placed: list[tuple[str, Definition | None, int]] = []
    for frame in reversed(frames):
        path = index.map_path(frame.file, project=frame.project)
        src = index.source(path) if path else None
        d = src.enclosing(frame.line) if src is not None and frame.line is not None else None
        if src is not None and frame.line is not None and (not placed or placed[0][1] != d):
            placed.append((src.path, d, frame.line))  # a generator's frame is its function's
        if len(placed) == 2:
            break
    if not placed or placed[0][1] is None or is_test_path(placed[0][0]):
        return
    inner = placed[0][1]
    outer = placed[1] if len(placed) > 1 else None
    if outer is not None and (outer[1] is None or calls_by_name(outer[1], outer[2], inner.name)):
        return
    add_binders(index, board, placed[0][0], inner, scale, f"binds the innermost frame's function ({what})")
