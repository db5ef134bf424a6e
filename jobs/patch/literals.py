"""Text a function writes, found in a failure's message: a wrong output (a rendered graph, a report
line, a formatted value) shows the fixed text of the template that built it, so the functions whose
string literals appear in the message are where that output was made. Templates are split on their
`%s` / `{}` fields; only their fixed parts must appear."""

from __future__ import annotations

import ast
import re

from jobs.patch.outline import Definition
from jobs.patch.regions import Board
from jobs.patch.symbols import RepoIndex, is_test_path

OUTPUT_TEXT = 4.0  # a function whose templates make up this much of the message (see FULL_CHARS)
FULL_CHARS = 12  # fixed characters matched for the full weight
MIN_CHARS = 4  # fewer matched characters are chance
MAX_FUNCTIONS = 6  # more functions matching the message: the text is too common to point anywhere
_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}")


def fixed_parts(node: ast.expr) -> list[str]:
    """The fixed text of a string literal or f-string, split where fields are filled in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _FIELD.split(node.value)
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def _own_nodes(func: Definition) -> list[ast.AST]:
    """`func`'s nodes, without those of the functions and classes nested in it."""
    out: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(func.node))
    while todo:
        n = todo.pop()
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append(n)
            todo.extend(ast.iter_child_nodes(n))
    return out


def _templates(func: Definition) -> list[list[str]]:
    body = getattr(func.node, "body", [])
    doc = body[0].value if body and isinstance(body[0], ast.Expr) else None
    nodes = _own_nodes(func)
    inner = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for n in nodes:
        if n is doc or id(n) in inner or not isinstance(n, ast.expr):
            continue
        parts = [p.strip() for p in fixed_parts(n)]
        if any(parts):
            out.append([p for p in parts if len(p) >= 2])
    return out


def matched_chars(func: Definition, haystack: str) -> int:
    """Fixed characters of `func`'s templates found in `haystack`: a template counts when all its
    parts of 2+ characters appear, and it holds more than one word or some punctuation."""
    total = 0
    for parts in _templates(func):
        text = " ".join(parts)
        if not parts or sum(map(len, parts)) < 3 or text.isidentifier():
            continue
        if all(p in haystack for p in parts):
            total += sum(map(len, parts))
    return total


def unescape(message: str) -> str:
    """The message and its reprs' text (`\\n` and escaped quotes as written in the source)."""
    plain = message.replace("\\n", "\n").replace('\\"', '"').replace("\\'", "'")
    return message if plain == message else f"{message}\n{plain}"


def explanation(excerpt: str) -> str:
    """pytest's `E` lines for the first failure in the excerpt (each failure's are contiguous)."""
    lines = excerpt.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("E ")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("E ")), len(lines))
    return "\n".join(ln[1:] for ln in lines[start:end])


def add_output_text(index: RepoIndex, board: Board, message: str, excerpt: str) -> None:
    """Functions whose templates show in the failure's message or pytest's explanation of it."""
    haystack = unescape(f"{message}\n{explanation(excerpt)}")
    why = "writes text the failure's message shows"
    found = []
    for path in sorted(board.files()):
        src = index.source(path)
        if src is None or is_test_path(path):
            continue
        for d in src.defs:
            if d.kind == "def":
                chars = matched_chars(d, haystack)
                if chars >= MIN_CHARS:
                    found.append((path, d, chars))
    if len(found) > MAX_FUNCTIONS:
        return
    for path, d, chars in found:
        board.add_def(path, d, OUTPUT_TEXT * min(1.0, chars / FULL_CHARS), why)
