"""Single-token mutations of a library's functions, for bench/localize.py.

A mutation is (file, line, col, old, new): an operator flip (`<` -> `<=`, `==` -> `!=`, `+` -> `-`,
`and` -> `or`), an off-by-one or wrong constant (`0` -> `1`, `1` -> `2`), a flipped boolean, or two
plain arguments swapped (`f(a, b)` -> `f(b, a)`). `find_mutations` lists every candidate inside a
function of the library's own (non-test) code; `apply` checks the old text is where it should be.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OPERATORS = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "+": "-",
    "-": "+",
    "+=": "-=",
    "-=": "+=",
    "*": "//",
    "//": "*",
    "and": "or",
    "or": "and",
    "True": "False",
    "False": "True",
}
CONSTANTS = {"0": "1", "1": "2", "2": "3", "-1": "-2"}


@dataclass(frozen=True)
class Mutation:
    library: str
    file: str  # relative to the library's root
    line: int
    col: int
    old: str
    new: str
    function: str  # qualname of the innermost function holding the line

    def key(self) -> str:
        return f"{self.file}:{self.line}:{self.col}:{self.old}->{self.new}"

    def to_toml(self) -> str:
        d: dict[str, Any] = asdict(self)
        return "[[case]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in d.items())


def _toml_value(v: object) -> str:
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _functions(tree: ast.Module) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []

    def walk(parent: ast.AST, prefix: str) -> None:
        for node in ast.iter_child_nodes(parent):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qual = prefix + node.name
                if not isinstance(node, ast.ClassDef):  # from the `def` line: a signature is the function's
                    found.append((qual, node.lineno, node.end_lineno or node.lineno))
                walk(node, qual + ".")
            elif isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
                walk(node, prefix)

    walk(tree, "")
    return found


def innermost_function(source: str, line: int) -> str | None:
    spans = [f for f in _functions(ast.parse(source)) if f[1] <= line <= f[2]]
    return max(spans, key=lambda f: f[1])[0] if spans else None


def _binary_minus(prev: tokenize.TokenInfo | None) -> bool:
    return prev is not None and (prev.type in (tokenize.NAME, tokenize.NUMBER) or prev.string in ")]")


def find_mutations(library: str, root: Path, rel: str) -> list[Mutation]:
    source = (root / rel).read_text()
    tree = ast.parse(source)
    spans = _functions(tree)
    doc_lines = {
        n.body[0].lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    out: list[Mutation] = []
    prev: tokenize.TokenInfo | None = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        line, col = tok.start
        owners = [f for f in spans if f[1] <= line <= f[2]]
        if owners and line not in doc_lines and tok.start[0] == tok.end[0]:
            func = max(owners, key=lambda f: f[1])[0]
            new = OPERATORS.get(tok.string) if tok.type in (tokenize.OP, tokenize.NAME) else None
            if tok.string in ("+", "-") and not _binary_minus(prev):
                new = None
            if tok.type == tokenize.NUMBER:
                new = CONSTANTS.get(tok.string)
            if new is not None:
                out.append(Mutation(library, rel, line, col, tok.string, new, func))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            prev = tok
    out += _swaps(library, rel, source, tree, spans)
    return out


def _swaps(
    library: str, rel: str, source: str, tree: ast.Module, spans: list[tuple[str, int, int]]
) -> list[Mutation]:
    lines = source.splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords:
            a, b = node.args
            if not (isinstance(a, ast.Name) and isinstance(b, ast.Name)) or a.id == b.id:
                continue
            if a.lineno != b.lineno or b.end_col_offset is None:
                continue
            owners = [f for f in spans if f[1] <= a.lineno <= f[2]]
            if not owners:
                continue
            old = lines[a.lineno - 1][a.col_offset : b.end_col_offset]
            new = f"{b.id}, {a.id}"
            func = max(owners, key=lambda f: f[1])[0]
            out.append(Mutation(library, rel, a.lineno, a.col_offset, old, new, func))
    return out


def apply(root: Path, m: Mutation) -> str:
    """Write the mutated file; returns the original text, to restore."""
    path = root / m.file
    original = path.read_text()
    lines = original.splitlines(keepends=True)
    text = lines[m.line - 1]
    if text[m.col : m.col + len(m.old)] != m.old:
        raise ValueError(f"{m.key()}: found {text[m.col : m.col + len(m.old)]!r}")
    lines[m.line - 1] = text[: m.col] + m.new + text[m.col + len(m.old) :]
    path.write_text("".join(lines))
    return original
