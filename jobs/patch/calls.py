"""What a function calls, resolved to the project's own definitions through the caller's imports.

Static and approximate: `name(...)` resolves to a definition in the same module or through an
import; `mod.name(...)` through the import of `mod`; `self.name(...)` to the enclosing class; a
method called on anything else (`obj.parse(...)`) to same-named methods of the files already in play.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from jobs.patch.outline import Definition, SourceFile
from jobs.patch.symbols import RepoIndex

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    text: str  # `add`, `m.add`, `self.helper`, `?.spread` (receiver not a plain name)
    line: int
    attribute: bool = False  # `obj.name` read, not called: a property, when `obj`'s class is known


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


_CONTAINS = ("self.assertIn", "self.assertNotIn")  # unittest's membership checks run `in`
_EQUALS = ("self.assertEqual", "self.assertNotEqual")  # unittest's equality checks run `==`
_COMPARE: dict[type[ast.cmpop], str] = {
    ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__",
    ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__",
}  # fmt: skip
_SUBSCRIPT = {ast.Load: "__getitem__", ast.Store: "__setitem__", ast.Del: "__delitem__"}
_ITERATES = frozenset(
    {"list", "set", "tuple", "sorted", "frozenset", "sum", "min", "max", "any", "all", "enumerate"}
)  # builtins that run their argument's `__iter__`
_PROTOCOL = {"str": "__str__", "repr": "__repr__", "bool": "__bool__", "hash": "__hash__",
             "int": "__int__", "float": "__float__", "abs": "__abs__", "format": "__format__"}  # fmt: skip
_BINARY: dict[type[ast.operator], str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.FloorDiv: "floordiv",
    ast.Mod: "mod", ast.Pow: "pow", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
    ast.MatMult: "matmul", ast.LShift: "lshift", ast.RShift: "rshift",
}  # fmt: skip


def called(node: ast.AST, lines: tuple[int, int] | None = None) -> list[Call]:
    """Calls inside `node`, optionally only those on `lines` (inclusive); class instantiations are
    calls too, and so are the special methods a plain name's operators run (`c[k] = v` runs
    `c.__setitem__`, `k in c` `c.__contains__`, `len(c)` `c.__len__`, `for x in c` and `set(c)`
    `c.__iter__`, `str(c)` `c.__str__`, `a * b` `a.__mul__` and `b.__rmul__`), and a method looked
    up by a literal prefix (`getattr(self, "_led_" + kind)` is `self._led_*`)."""
    found: list[Call] = []
    for sub in ast.walk(node):
        text, attribute = None, False
        if isinstance(sub, ast.Call):
            text = _dotted(sub.func)
            arg = sub.args[0].id if sub.args and isinstance(sub.args[0], ast.Name) else None
            if text == "len" and arg:
                found.append(Call(f"{arg}.__len__", sub.lineno))
            if arg and (text in _ITERATES or text in _PROTOCOL):
                found.append(Call(f"{arg}.{_PROTOCOL.get(text, '__iter__')}", sub.lineno))
            prefix = _getattr_prefix(sub) if text == "getattr" else None
            if prefix:
                found.append(Call(f"{prefix[0]}.{prefix[1]}*", sub.lineno))
            if text in _CONTAINS and len(sub.args) >= 2 and isinstance(sub.args[1], ast.Name):
                found.append(Call(f"{sub.args[1].id}.__contains__", sub.lineno))
            if text in _EQUALS and sub.args and isinstance(sub.args[0], ast.Name):
                found.append(Call(f"{sub.args[0].id}.__eq__", sub.lineno))
        elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name):
            text = f"{sub.value.id}.{_SUBSCRIPT.get(type(sub.ctx), '__getitem__')}"
        elif isinstance(sub, ast.Compare):
            if isinstance(sub.ops[-1], ast.In | ast.NotIn) and isinstance(sub.comparators[-1], ast.Name):
                text = f"{sub.comparators[-1].id}.__contains__"
            elif type(sub.ops[0]) in _COMPARE and isinstance(sub.left, ast.Name):
                text = f"{sub.left.id}.{_COMPARE[type(sub.ops[0])]}"
        elif isinstance(sub, ast.For) and isinstance(sub.iter, ast.Name):
            text = f"{sub.iter.id}.__iter__"
        elif isinstance(sub, ast.BinOp | ast.AugAssign) and type(sub.op) in _BINARY:
            op = _BINARY[type(sub.op)]
            left = sub.left if isinstance(sub, ast.BinOp) else sub.target
            if isinstance(left, ast.Name):
                found.append(
                    Call(f"{left.id}.__{'i' if isinstance(sub, ast.AugAssign) else ''}{op}__", sub.lineno)
                )
            if isinstance(sub, ast.BinOp) and isinstance(sub.right, ast.Name):
                text = f"{sub.right.id}.__r{op}__"
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            text, attribute = f"{sub.value.id}.{sub.attr}", isinstance(sub.ctx, ast.Load)
            text = text if attribute else None
        line = getattr(sub, "lineno", 0)
        if text is not None and (lines is None or lines[0] <= line <= lines[1]):
            found.append(Call(text, line, attribute))
    return found


def _getattr_prefix(call: ast.Call) -> tuple[str, str] | None:
    """`getattr(self, "_led_" + kind)`, `getattr(self, "_led_%s" % kind)`, `getattr(self, f"_led_{k}")`,
    `getattr(obj, "to_{}".format(to))` -> ("self", "_led_"), ("obj", "to_"): the receiver and the
    literal start of the name (3+ characters)."""
    if len(call.args) < 2 or not isinstance(call.args[0], ast.Name):
        return None
    name = call.args[1]
    head: ast.expr | None = None
    if isinstance(name, ast.BinOp) and isinstance(name.op, ast.Add | ast.Mod):
        head = name.left
    elif isinstance(name, ast.JoinedStr) and name.values:
        head = name.values[0]
    elif isinstance(name, ast.Call) and isinstance(name.func, ast.Attribute) and name.func.attr == "format":
        head = name.func.value
    if not isinstance(head, ast.Constant) or not isinstance(head.value, str):
        return None
    prefix = re.split(r"[%{]", head.value)[0]
    return (call.args[0].id, prefix) if len(prefix) >= 3 and prefix.isidentifier() else None


def local_types(func: Definition) -> dict[str, str]:
    """Local names bound to a call's result: `p = Parser(f)` -> {"p": "Parser"} (the called text)."""
    types: dict[str, str] = {}
    for sub in ast.walk(func.node):
        if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
            for target in sub.targets:
                if isinstance(target, ast.Name):
                    types[target.id] = _dotted(sub.value.func)
        elif (
            isinstance(sub, ast.withitem)
            and isinstance(sub.optional_vars, ast.Name)
            and isinstance(sub.context_expr, ast.Call)
        ):
            types[sub.optional_vars.id] = _dotted(sub.context_expr.func)
    return types


def self_place(index: RepoIndex, src: SourceFile, self_class: str) -> tuple[SourceFile, str]:
    """Where `self_class` is defined: `path::Class` for a class in another file than `src` (a test
    class whose mixin holds the test method), a plain `Class` in `src`."""
    path, _, cls = self_class.rpartition("::")
    other = index.source(path) if path else None
    return (other or src), cls


def _enclosing_class(src: SourceFile, scope: Definition) -> str | None:
    owner = scope.qualname.rsplit(".", 1)[0] if "." in scope.qualname else None
    while owner:
        if any(d.qualname == owner and d.kind == "class" for d in src.defs):
            return owner
        owner = owner.rsplit(".", 1)[0] if "." in owner else None
    return None


def _member(index: RepoIndex, src: SourceFile, cls: str, name: str) -> list[tuple[str, Definition]]:
    """`cls.name` defined in `cls`'s body: a method, or an attribute naming a function or class."""
    own = [d for d in src.defs if d.qualname == f"{cls}.{name}"]
    if own:
        return [(src.path, own[0])]
    value = src.class_attrs.get(f"{cls}.{name}")
    if value is None:
        return []
    head, _, rest = value.partition(".")
    local = [d for d in src.defs if d.qualname == value]
    if local:
        return [(src.path, local[0])]
    found = (
        index.resolve(".".join(p for p in (src.imports[head], rest) if p)) if head in src.imports else None
    )
    return [(found[0], found[1])] if found is not None and found[1] is not None else []


def find_method(
    index: RepoIndex, src: SourceFile, cls: str, name: str, hops: int = 3
) -> list[tuple[str, Definition]]:
    """`cls.name` in `src`, else in its base classes (same module or imported), else in the
    module's subclasses of `cls` (a mixin's `self.name` is often defined by the classes using it)."""
    own = _member(index, src, cls, name)
    if own:
        return own
    node = next((d.node for d in src.defs if d.qualname == cls and d.kind == "class"), None)
    found: list[tuple[str, Definition]] = []
    for base in node.bases if isinstance(node, ast.ClassDef) and hops > 0 else []:
        dotted = _dotted(base)
        if any(d.qualname == dotted and d.kind == "class" for d in src.defs):
            found += find_method(index, src, dotted, name, hops - 1)
        elif dotted.split(".")[0] in src.imports:
            target = index.resolve(".".join([src.imports[dotted.split(".")[0]], *dotted.split(".")[1:]]))
            other = index.source(target[0]) if target and target[1] else None
            if other is not None and target is not None and target[1] is not None:
                found += find_method(index, other, target[1].qualname, name, hops - 1)
        if found:
            return found
    for d in src.defs:
        if isinstance(d.node, ast.ClassDef) and cls in (_dotted(b) for b in d.node.bases):
            found += _member(index, src, d.qualname, name)
    return list(dict.fromkeys(found))[:4]


MAX_PREFIXED = 40


def overrides(
    index: RepoIndex, src: SourceFile, cls: str, name: str, files_in_play: set[str]
) -> list[tuple[str, Definition]]:
    """`name` as redefined by subclasses of `cls` in `src` or the files in play: what `self.name()`
    in `cls` runs when `self` is one of them (a base class's template method calling a hook)."""
    short = cls.rsplit(".", 1)[-1]
    found = []
    for path in sorted(files_in_play | {src.path}):
        other = index.source(path)
        tables = _tables(other) if other is not None else None
        for sub in tables.subclasses.get(short, []) if tables is not None else []:
            method = tables.by_qualname.get(f"{sub}.{name}") if tables is not None else None
            found += [(path, method)] if method is not None else []
    return found[:4]


@dataclass
class _Tables:
    """A file's methods by name and classes by base name, built once per parsed file."""

    source: SourceFile
    methods: list[tuple[str, Definition]]  # (name, method), in source order
    by_name: dict[str, list[Definition]]
    by_qualname: dict[str, Definition]
    subclasses: dict[str, list[str]]  # a base's last dotted part -> qualnames of its subclasses here


_NODES: dict[tuple[str, int], tuple[ast.AST, Any]] = {}
MAX_NODES = 20_000


def per_node(kind: str, node: ast.AST, compute: Callable[[], T]) -> T:
    """`compute()`'s result for this parsed node, cached by identity (the entry holds the node, so
    its id stays unique): a function's calls are read once however many searches pass through it."""
    hit = _NODES.get((kind, id(node)))
    if hit is not None and hit[0] is node:
        return cast(T, hit[1])
    value = compute()
    if len(_NODES) >= MAX_NODES:
        _NODES.clear()
    _NODES[(kind, id(node))] = (node, value)
    return value


_TABLES: dict[int, _Tables] = {}
MAX_TABLES = 4096


def _tables(src: SourceFile) -> _Tables:
    """`src`'s lookup tables, cached by identity (the entry holds `src`, so its id stays unique)."""
    hit = _TABLES.get(id(src))
    if hit is not None and hit.source is src:
        return hit
    methods = [(d.name, d) for d in src.defs if d.depth > 0 and d.kind == "def"]
    by_name: dict[str, list[Definition]] = {}
    for n, d in methods:
        by_name.setdefault(n, []).append(d)
    subclasses: dict[str, list[str]] = {}
    for d in src.defs:
        for b in d.node.bases if isinstance(d.node, ast.ClassDef) else []:
            subclasses.setdefault(_dotted(b).rsplit(".", 1)[-1], []).append(d.qualname)
    tables = _Tables(src, methods, by_name, {d.qualname: d for d in src.defs}, subclasses)
    if len(_TABLES) >= MAX_TABLES:
        _TABLES.clear()
    _TABLES[id(src)] = tables
    return tables


def resolve_call(
    index: RepoIndex, src: SourceFile, scope: Definition, call: Call, files_in_play: set[str]
) -> list[tuple[str, Definition]]:
    """Project definitions `call` may run, as (file, definition); empty when it leaves the project."""
    head, _, rest = call.text.partition(".")
    if head in ("self", "cls") and rest.endswith("*"):  # looked up by name: every method it may be
        owner = _enclosing_class(src, scope)
        return [
            (src.path, d) for d in src.defs
            if owner and d.kind == "def" and d.qualname.startswith(f"{owner}.{rest[:-1]}")
            and "." not in d.qualname[len(owner) + 1 :]
        ][:MAX_PREFIXED]  # fmt: skip
    if head in ("self", "cls") and rest and "." not in rest:
        owner = _enclosing_class(src, scope)
        methods = find_method(index, src, owner, rest) if owner else []
        if methods and owner:
            return methods + overrides(index, src, owner, rest, files_in_play)
        head = "?"
    if head != "?":
        top = {d.qualname for d in src.defs if d.depth == 0}
        if head in top:
            local = [d for d in src.defs if d.qualname == call.text]
            return [(src.path, local[0])] if local else []
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
    if name.endswith("*"):  # `getattr(obj, "to_" + kind)`: any method so named, here or imported
        for path in sorted(files_in_play | {src.path} | imported_files(index, src)):
            other = index.source(path)
            methods = _tables(other).methods if other is not None else []
            hits += [(path, d) for n, d in methods if n.startswith(name[:-1])]
        return hits[:MAX_PREFIXED]
    for path in sorted(files_in_play):
        other = index.source(path)
        if other is not None:
            hits += [(path, d) for d in _tables(other).by_name.get(name, [])]
    return hits[:4]


def imported_files(index: RepoIndex, src: SourceFile) -> set[str]:
    """The checkout's files that `src` imports from (modules, or the modules of imported names)."""
    found = set()
    for target in [*src.imports.values(), *src.star_imports]:
        resolved = index.resolve(target)
        if resolved is not None:
            found.add(resolved[0])
    return found


CONSTRUCTORS = ("__init__", "__post_init__", "__new__")


@dataclass(frozen=True)
class Callee:
    path: str
    definition: Definition
    share: float  # 1/sqrt(n) when the call resolves to n candidates
    closure: bool = False  # nested in the caller: runs when the caller's result is called


def callees(
    index: RepoIndex,
    src: SourceFile,
    func: Definition,
    files_in_play: set[str],
    lines: list[tuple[int, int]] | None = None,
    self_class: str | None = None,
) -> list[Callee]:
    """What `func` (or only its statements on `lines`) may run: resolved calls, a class's
    constructors, and the functions nested in `func` (closures run later, when returned).
    `self_class` is the class `self` is known to be (a failing test's class, for a mixin's method)."""
    out: dict[tuple[str, str], Callee] = {}
    types = per_node("types", func.node, lambda: local_types(func))
    for call in per_node("calls", func.node, lambda: called(func.node)):
        if lines is not None and not any(s <= call.line <= e for s, e in lines):
            continue
        head, _, attr = call.text.partition(".")
        if call.attribute and head not in types and head not in ("self", "cls"):
            continue  # a plain attribute of something unknown: no evidence of code
        if head in types and "." not in attr:
            maker = Call(types[head], call.line)
            resolved = _typed_method(
                index, src, func, maker, attr or "__call__", files_in_play, not call.attribute, self_class
            )
        elif call.attribute:
            owner = self_place(index, src, self_class) if self_class else None
            enclosing = _enclosing_class(src, func)
            owner = owner or ((src, enclosing) if enclosing else None)
            resolved = find_method(index, owner[0], owner[1], attr) if owner else []
        elif head == "self" and self_class and "." not in attr:
            resolved = find_method(index, *self_place(index, src, self_class), attr) or resolve_call(
                index, src, func, call, files_in_play
            )
        else:
            resolved = resolve_call(index, src, func, call, files_in_play)
        targets = []
        for path, d in resolved:
            other = index.source(path) if d.kind == "class" else None
            ctors = [c for c in (other.defs if other else []) if c.qualname.rpartition(".")[0] == d.qualname
                     and c.name in CONSTRUCTORS]  # fmt: skip
            targets += [
                (path, ctor) for ctor in ctors or [d]
            ]  # a class without constructors stands for itself
        for path, d in targets:
            key = (path, d.qualname)
            share = 1 / len(targets) ** 0.5
            if key not in out or out[key].share < share:
                out[key] = Callee(path, d, share)
    if lines is None and func.kind == "def":
        for d in src.defs:
            if d.qualname.startswith(func.qualname + ".") and d.depth == func.depth + 1 and d.kind == "def":
                out.setdefault((src.path, d.qualname), Callee(src.path, d, 1.0, closure=True))
    out.pop((src.path, func.qualname), None)
    return list(out.values())


def _typed_method(
    index: RepoIndex,
    src: SourceFile,
    func: Definition,
    maker: Call,
    attr: str,
    files_in_play: set[str],
    guess: bool = True,
    self_class: str | None = None,
) -> list[tuple[str, Definition]]:
    """`attr` of what `maker` builds, when it builds one of the project's classes (`self.Cache`
    looked up on `self_class` when known: a test class setting the class its mixin tests)."""
    found = []
    head, _, rest = maker.text.partition(".")
    makers = (
        find_method(index, *self_place(index, src, self_class), rest) if head == "self" and self_class else []
    )
    for path, cls in makers or resolve_call(index, src, func, maker, files_in_play):
        other = index.source(path)
        if cls.kind == "class" and other is not None:
            found += find_method(index, other, cls.qualname, attr)
    if not found and guess and not attr.startswith("__"):
        found = resolve_call(index, src, func, Call(f"?.{attr}", maker.line), files_in_play)
    return found
