"""What a function calls, resolved to the project's own definitions through the caller's imports.

Static and approximate: `name(...)` resolves to a definition in the same module or through an
import; `mod.name(...)` through the import of `mod`; `self.name(...)` to the enclosing class; a
method called on anything else (`obj.parse(...)`) to same-named methods of the files already in play.
Test ids (pytest node ids, unittest and doctest ids) resolve to their file and function the same way.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from jobs.patch.outline import Definition, SourceFile
from jobs.patch.symbols import RepoIndex

_UNITTEST_ID = re.compile(r"^(?P<method>\w+) \((?P<where>[\w.]+)\)")
_PARAMS = re.compile(r"\[.*\]$")


@dataclass(frozen=True)
class Call:
    text: str  # `add`, `m.add`, `self.helper`, `?.spread` (receiver not a plain name)
    line: int


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def called(node: ast.AST, lines: tuple[int, int] | None = None) -> list[Call]:
    """Calls (and decorators-free references to called names) inside `node`, optionally only those
    on `lines` (inclusive). Class instantiations are calls too."""
    found: list[Call] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            line = sub.lineno
            if lines is None or lines[0] <= line <= lines[1]:
                found.append(Call(_dotted(sub.func), line))
    return found


def statement_lines(func: Definition, line: int) -> tuple[int, int]:
    """The line span of the innermost simple statement of `func` containing `line`."""
    best = (line, line)
    for sub in ast.walk(func.node):
        if isinstance(sub, ast.stmt) and not isinstance(sub, ast.FunctionDef | ast.ClassDef):
            end = sub.end_lineno or sub.lineno
            if sub.lineno <= line <= end and (best == (line, line) or end - sub.lineno < best[1] - best[0]):
                best = (sub.lineno, end)
    return best


def _enclosing_class(src: SourceFile, scope: Definition) -> str | None:
    owner = scope.qualname.rsplit(".", 1)[0] if "." in scope.qualname else None
    while owner:
        if any(d.qualname == owner and d.kind == "class" for d in src.defs):
            return owner
        owner = owner.rsplit(".", 1)[0] if "." in owner else None
    return None


def resolve_call(
    index: RepoIndex, src: SourceFile, scope: Definition, call: Call, files_in_play: set[str]
) -> list[tuple[str, Definition]]:
    """Project definitions `call` may run, as (file, definition); empty when it leaves the project."""
    head, _, rest = call.text.partition(".")
    if head in ("self", "cls") and rest and "." not in rest:
        owner = _enclosing_class(src, scope)
        methods = [d for d in src.defs if owner and d.qualname == f"{owner}.{rest}"]
        if methods:
            return [(src.path, methods[0])]
        head = "?"
    if head != "?":
        local = [d for d in src.defs if d.qualname == call.text and d.depth == 0]
        if local:
            return [(src.path, local[0])]
        if head in src.imports:
            target = ".".join(p for p in (src.imports[head], rest) if p)
            found = index.resolve(target)
            if found is not None and found[1] is not None:
                return [(found[0], found[1])]
            return []
    name = call.text.rsplit(".", 1)[-1]
    if "." not in call.text or name.startswith("__") or len(name) < 3:
        return []
    hits: list[tuple[str, Definition]] = []
    for path in sorted(files_in_play):
        other = index.source(path)
        if other is not None:
            hits += [(path, d) for d in other.defs if d.name == name and d.depth > 0 and d.kind == "def"]
    return hits[:4]


def resolve_test_id(index: RepoIndex, test_id: str) -> tuple[str, Definition | None] | None:
    """`tests/test_x.py::TestC::test_m[p]`, `test_m (pkg.test_x.TestC)`, `pkg.test_x.TestC.test_m`,
    doctest `pkg/mod.py::pkg.mod.func` -> (file, definition)."""
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
    return index.resolve(dotted)
