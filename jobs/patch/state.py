"""Who set the state a failing line read: the methods of the same class that write the `self.x`
attributes read there. A wrong value stored by one method often fails in another."""

from __future__ import annotations

import ast

from jobs.patch.outline import Definition, SourceFile

MUTATORS = frozenset(
    {"append", "extend", "insert", "update", "add", "setdefault", "pop", "remove", "clear", "discard"}
)


def _self_attr(node: ast.AST) -> str | None:
    """`self.x`, `self.x[k]`, `self.x.y` -> "x"."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            return node.attr
        node = node.value
    return None


def self_reads(func: Definition, lines: list[tuple[int, int]]) -> set[str]:
    """Attributes of `self` read on `lines` of `func` (methods called on `self` excluded)."""
    called = {id(n.func) for n in ast.walk(func.node) if isinstance(n, ast.Call)}
    return {
        n.attr
        for n in ast.walk(func.node)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and id(n) not in called
        and isinstance(n.value, ast.Name) and n.value.id == "self"
        and any(s <= n.lineno <= e for s, e in lines)
    }  # fmt: skip


def _writes(method: Definition) -> set[str]:
    found: set[str] = set()
    for n in ast.walk(method.node):
        targets: list[ast.expr] = []
        if isinstance(n, ast.Assign):
            targets = n.targets
        elif isinstance(n, ast.AugAssign | ast.AnnAssign):
            targets = [n.target]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATORS:
            targets = [n.func.value]
        for t in targets:
            for part in ast.walk(t):
                name = _self_attr(part) if isinstance(part, ast.Attribute | ast.Subscript) else None
                if name:
                    found.add(name)
    return found


def state_writers(src: SourceFile, method: Definition, names: set[str]) -> list[Definition]:
    """Other methods of `method`'s class that write any of the attributes `names`."""
    owner = method.qualname.rpartition(".")[0]
    if not names or not any(d.qualname == owner and d.kind == "class" for d in src.defs):
        return []
    siblings = [
        d for d in src.defs
        if d.kind == "def" and d.qualname.rpartition(".")[0] == owner and d.qualname != method.qualname
    ]  # fmt: skip
    return [d for d in siblings if _writes(d) & names]


def _attr_written(target: ast.expr) -> str | None:
    """`item.removed = …`, `self.x[k] = …`, `f().y = …` -> the attribute written ("removed", "x", "y")."""
    node: ast.expr = target
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.attr if isinstance(node, ast.Attribute) else None


def attribute_reads(func: Definition) -> set[str]:
    """Attributes `func` reads on other objects than `self` (`item.expires`, `node.children`), the
    methods it calls excluded: state set where those objects were built or changed."""
    called = {id(n.func) for n in ast.walk(func.node) if isinstance(n, ast.Call)}
    return {
        n.attr
        for n in ast.walk(func.node)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and id(n) not in called
        and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))
    }  # fmt: skip


def attribute_writers(src: SourceFile, func: Definition, names: set[str]) -> list[tuple[Definition, float]]:
    """The other functions of `func`'s file that write an attribute of that name on anything
    (`self.removed = False` in another class's constructor, `item.removed = True`), each with the
    share of `names` it writes: state one object's method reads is often set where it was built."""
    if not names:
        return []
    found = []
    for d in src.defs:
        if d.kind != "def" or d.qualname == func.qualname or d.qualname.startswith(func.qualname + "."):
            continue
        written: set[str] = set()
        for n in ast.walk(d.node):
            targets: list[ast.expr] = []
            if isinstance(n, ast.Assign):
                targets = n.targets
            elif isinstance(n, ast.AugAssign | ast.AnnAssign):
                targets = [n.target]
            for t in targets:
                for part in ast.walk(t) if isinstance(t, ast.Tuple) else [t]:
                    name = _attr_written(part) if isinstance(part, ast.expr) else None
                    if name:
                        written.add(name)
        if written & names:
            found.append((d, len(written & names) / len(names)))
    return found
