"""A failing test in the checkout: its id resolved to a function, the class its `self` is, and the
statements that led to its failing line. Static, from `ast`; nothing is imported."""

from __future__ import annotations

import ast
import re

from jobs.patch.calls import find_method
from jobs.patch.outline import Definition
from jobs.patch.symbols import RepoIndex

_UNITTEST_ID = re.compile(r"^(?P<method>\w+) \((?P<where>[\w.]+)\)")
_PARAMS = re.compile(r"\[.*\]$", re.S)


def statement_lines(func: Definition, line: int) -> tuple[int, int]:
    """The line span of the innermost simple statement of `func` containing `line`."""
    best = (line, line)
    for sub in ast.walk(func.node):
        if isinstance(sub, ast.stmt) and not isinstance(sub, ast.FunctionDef | ast.ClassDef):
            end = sub.end_lineno or sub.lineno
            if sub.lineno <= line <= end and (best == (line, line) or end - sub.lineno < best[1] - best[0]):
                best = (sub.lineno, end)
    return best


def slice_levels(func: Definition, stmt: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """The failing statement and the earlier statements of `func` that assigned the local names it
    uses, transitively, by distance: [[failing]], [`r = p.parse(s)`], [`p = Parser(f)`] for a failing
    `assert r[0] == 1`. The last statement before the failing one that changes a name in place
    (`r.sort()`, `del r[k]`) counts as assigning it too: the state the failing line reads."""
    assigns: list[tuple[set[str], tuple[int, int], set[str]]] = []
    changes: dict[str, tuple[tuple[int, int], set[str]]] = {}  # per name, its last in-place change
    for sub in ast.walk(func.node):
        if isinstance(sub, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.With | ast.For):
            targets = (
                sub.targets
                if isinstance(sub, ast.Assign)
                else [getattr(sub, "target", None), *[i.optional_vars for i in getattr(sub, "items", [])]]
            )
            names = {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}
            value = getattr(sub, "value", None) or getattr(sub, "iter", None)
            if isinstance(sub, ast.With):
                value = ast.Tuple([i.context_expr for i in sub.items])
            used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)} if value else set()
            end = sub.lineno if isinstance(sub, ast.With | ast.For) else (sub.end_lineno or sub.lineno)
            assigns.append((names, (sub.lineno, end), used))
        elif isinstance(sub, ast.Expr | ast.Delete):  # `bl.pop(k)`, `del bl[k]`: they change `bl`
            receiver = _mutated(sub)
            span = (sub.lineno, sub.end_lineno or sub.lineno)
            if receiver is not None and span[0] < stmt[0]:
                used = {n.id for n in ast.walk(sub) if isinstance(n, ast.Name)}
                last = changes.get(receiver)
                if last is None or last[0][0] < span[0]:
                    changes[receiver] = (span, used)
    assigns += [({name}, span, used) for name, (span, used) in changes.items()]
    levels, frontier = [[stmt]], _names_on(func.node, stmt)
    for _ in range(6):
        new, level = set(), []
        for names, span, used in assigns:
            if names & frontier and span[0] < stmt[0] and not any(span in lv for lv in levels):
                level.append(span)
                new |= used
        if not level:
            break
        levels.append(level)
        frontier = new
    return levels


def _mutated(stmt: ast.Expr | ast.Delete) -> str | None:
    """The local a statement changes in place: `bl.pop(k)` / `bl.x.clear()` / `del bl[k]` -> "bl"
    (not `self`, whose statements in a test are mostly its checks)."""
    node: ast.expr | None = None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        node = stmt.value.func.value if isinstance(stmt.value.func, ast.Attribute) else None
    elif isinstance(stmt, ast.Delete) and stmt.targets:
        node = stmt.targets[0]
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) and node.id not in ("self", "cls") else None


def backward_slice(func: Definition, stmt: tuple[int, int]) -> list[tuple[int, int]]:
    return [span for level in slice_levels(func, stmt) for span in level]


def _names_on(node: ast.AST, span: tuple[int, int]) -> set[str]:
    return {
        n.id for n in ast.walk(node)
        if isinstance(n, ast.Name) and span[0] <= n.lineno <= span[1]
    }  # fmt: skip


def resolve_test_id(index: RepoIndex, test_id: str) -> tuple[str, Definition | None] | None:
    """`tests/test_x.py::TestC::test_m[p]`, `test_m (pkg.test_x.TestC)`, `pkg.test_x.TestC.test_m`,
    doctest `pkg/mod.py::pkg.mod.func` -> (file, definition)."""
    test_id = _PARAMS.sub("", test_id.strip())  # parameters may hold anything, `::` included
    if "::" in test_id:
        file_part, *names = test_id.split("::")
        path = index.map_path(file_part)
        if path is None:
            return None
        src = index.source(path)
        if not names or src is None:
            return path, None
        qual = ".".join(_PARAMS.sub("", n) for n in names)
        hit = next((d for d in src.defs if d.qualname == qual), None)
        if hit is None and len(names) > 1:  # a test method inherited from a base class or mixin
            owner, _, method = qual.rpartition(".")
            inherited = find_method(index, src, owner, method)
            if inherited:
                return inherited[0]
        if hit is None and "." in qual:  # a doctest id is the dotted name of what holds the doctest
            found = index.resolve(qual)
            return found if found is not None and found[0] == path else (path, None)
        return path, hit
    m = _UNITTEST_ID.match(test_id)
    dotted = test_id.strip() if m is None else m["where"]
    if m is not None and not dotted.endswith("." + m["method"]):
        dotted = f"{dotted}.{m['method']}"
    if not re.fullmatch(r"[\w.]+", dotted):
        return None
    found = index.resolve(dotted)
    if (found is None or found[1] is None) and "." in dotted:  # inherited: resolve the class
        owner, _, method = dotted.rpartition(".")
        cls = index.resolve(owner)
        src = index.source(cls[0]) if cls is not None and cls[1] is not None else None
        if src is not None and cls is not None and cls[1] is not None:
            inherited = find_method(index, src, cls[1].qualname, method)
            return inherited[0] if inherited else found
    return found


def id_class(test_id: str) -> str | None:
    """`tests/test_x.py::TestC::test_m[p]` -> "TestC"; unittest's `test_m (pkg.mod.TestC)` -> "TestC"."""
    test_id = _PARAMS.sub("", test_id.strip())
    if "::" in test_id:
        return ".".join(test_id.split("::")[1:-1]) or None
    m = re.match(r"^\w+ \((?:[\w.]+\.)?(\w+)\)", test_id)
    return m[1] if m else None


def return_slice(func: Definition) -> list[tuple[int, int]]:
    """The statements of `func` that compute what it returns: its `return`s and, transitively, the
    assignments of the names they use (not those of nested functions)."""
    spans: list[tuple[int, int]] = []
    todo = list(ast.iter_child_nodes(func.node))
    while todo:
        n = todo.pop()
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(n, ast.Return) and n.value is not None:
            spans += backward_slice(func, (n.lineno, n.end_lineno or n.lineno))
        todo.extend(ast.iter_child_nodes(n))
    return sorted(set(spans))


def test_class(index: RepoIndex, test_id: str, path: str) -> str | None:
    """The class a test id names, as `path::Class` when defined elsewhere than the test method."""
    cls = id_class(test_id)
    where = index.map_path(test_id.split("::")[0]) if cls and "::" in test_id else None
    return f"{where}::{cls}" if cls and where and where != path else cls
