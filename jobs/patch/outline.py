"""One Python file as the localizer sees it: its text, its definitions with line ranges, its imports.

Parsed with `ast` only; nothing from the file is imported or run. Files that do not decode as their
declared encoding are read as Latin-1; files that do not parse, or are too big to parse, keep their
text (so a frame inside them still shows its lines) with a note saying why there is no outline.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

MAX_PARSE_BYTES = 2_000_000  # larger files are shown by line only


@dataclass(frozen=True)
class Definition:
    """A class or function: `qualname` is `Class.method`, `outer.inner` for nested ones."""

    qualname: str
    kind: str  # "class" | "def"
    start: int  # first decorator's line
    end: int
    header: str  # `def f(x, y=1) -> int:` / `class A(Base):`
    depth: int
    node: ast.AST = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass
class SourceFile:
    path: str  # repository-relative, forward slashes
    lines: list[str]
    defs: list[Definition] = field(default_factory=list)  # in source order
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target
    star_imports: list[str] = field(default_factory=list)  # modules of `from m import *`
    class_attrs: dict[str, str] = field(
        default_factory=dict
    )  # `Class.attr` -> dotted value (`Cache = LRUCache`)
    note: str | None = None  # why there is no outline
    tree: ast.Module | None = field(default=None, repr=False)

    def enclosing(self, line: int) -> Definition | None:
        """The innermost definition containing `line` (functions preferred over their class)."""
        best: Definition | None = None
        for d in self.defs:
            if d.start <= line <= d.end and (best is None or d.depth >= best.depth):
                best = d
        return best

    def named(self, name: str) -> list[Definition]:
        return [d for d in self.defs if d.qualname == name or d.name == name]


def decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("latin-1")


def _header(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in [*node.bases, *node.keywords])
        return f"class {node.name}({bases}):" if bases else f"class {node.name}:"
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"


def _walk_defs(parent: ast.AST, prefix: str, depth: int, out: list[Definition]) -> None:
    """Definitions under `parent`, also those inside `if`, `try`, `with`, loops (`if TYPE_CHECKING:`)."""
    for node in ast.iter_child_nodes(parent):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            qual = f"{prefix}{node.name}"
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            out.append(Definition(qual, kind, start, end, _header(node), depth, node))
            _walk_defs(node, qual + ".", depth + 1, out)
        elif isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
            _walk_defs(node, prefix, depth, out)


def _statements(parent: ast.AST) -> list[ast.stmt]:
    """Every statement under `parent`, nested ones included, without visiting expressions."""
    found: list[ast.stmt] = []
    stack = [parent]
    while stack:
        node = stack.pop()
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, name, ()):
                if isinstance(child, ast.stmt):
                    found.append(child)
                stack.append(child)
    return found


def _imports(tree: ast.Module, package: str, stars: list[str]) -> dict[str, str]:
    """Local name -> dotted target, relative imports resolved against `package` (dotted);
    the modules of star imports are appended to `stars`."""
    found: dict[str, str] = {}
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                found[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(p for p in [*parts, base] if p)
            for alias in node.names:
                if alias.name == "*":
                    stars.append(base)
                else:
                    found[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return found


def _aliases(body: list[ast.stmt], prefix: str, found: dict[str, str]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = stmt.value
            if isinstance(value, ast.Call):  # staticmethod(f), partial(f, ...)
                value = value.args[0] if value.args else value.func
            if isinstance(value, ast.Name | ast.Attribute):
                found[f"{prefix}{stmt.targets[0].id}"] = ast.unparse(value)


def _class_attrs(tree: ast.Module, defs: list[Definition]) -> dict[str, str]:
    """`name = dotted.name` assignments at module level (`OMD = OrderedMultiDict`) and in class
    bodies (`Cache = cachetools.LRUCache` in a test class, keyed `Class.Cache`)."""
    found: dict[str, str] = {}
    _aliases(tree.body, "", found)
    for d in defs:
        if isinstance(d.node, ast.ClassDef):
            _aliases(d.node.body, f"{d.qualname}.", found)
    return found


def parse_source(path: str, data: bytes) -> SourceFile:
    text = decode(data)
    src = SourceFile(path, text.splitlines())
    if len(data) > MAX_PARSE_BYTES:
        src.note = f"not outlined: {len(data) // 1000} kB is too big to parse"
        return src
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        where = f" at line {e.lineno}" if isinstance(e, SyntaxError) and e.lineno else ""
        src.note = f"not outlined: {type(e).__name__}{where}"
        return src
    src.tree = tree
    _walk_defs(tree, "", 0, src.defs)
    src.defs.sort(key=lambda d: (d.start, d.depth))
    src.imports = _imports(tree, ".".join(path.split("/")[:-1]), src.star_imports)
    src.class_attrs = _class_attrs(tree, src.defs)
    return src


def module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def read_source(root: Path, path: str) -> SourceFile:
    return parse_source(path, (root / path).read_bytes())


def render_outline(src: SourceFile, max_depth: int = 1) -> list[str]:
    """`class A:  # L10-50`, `  def f(x):  # L12-20`: definitions down to `max_depth` nesting."""
    if src.note:
        return [f"# {src.note}"]
    return [f"{'  ' * d.depth}{d.header}  # L{d.start}-{d.end}" for d in src.defs if d.depth <= max_depth]
