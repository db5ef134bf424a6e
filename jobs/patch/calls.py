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


_CONTAINS = ("self.assertIn", "self.assertNotIn")  # unittest's membership checks run `in`
_SUBSCRIPT = {ast.Load: "__getitem__", ast.Store: "__setitem__", ast.Del: "__delitem__"}


def called(node: ast.AST, lines: tuple[int, int] | None = None) -> list[Call]:
    """Calls inside `node`, optionally only those on `lines` (inclusive); class instantiations are
    calls too, and so are the special methods a plain name's operators run (`c[k] = v` runs
    `c.__setitem__`, `k in c` `c.__contains__`, `len(c)` `c.__len__`, `for x in c` `c.__iter__`)."""
    found: list[Call] = []
    for sub in ast.walk(node):
        text = None
        if isinstance(sub, ast.Call):
            text = _dotted(sub.func)
            if text == "len" and sub.args and isinstance(sub.args[0], ast.Name):
                found.append(Call(f"{sub.args[0].id}.__len__", sub.lineno))
            if text in _CONTAINS and len(sub.args) >= 2 and isinstance(sub.args[1], ast.Name):
                found.append(Call(f"{sub.args[1].id}.__contains__", sub.lineno))
        elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name):
            text = f"{sub.value.id}.{_SUBSCRIPT.get(type(sub.ctx), '__getitem__')}"
        elif isinstance(sub, ast.Compare) and isinstance(sub.comparators[-1], ast.Name):
            if isinstance(sub.ops[-1], ast.In | ast.NotIn):
                text = f"{sub.comparators[-1].id}.__contains__"
        elif isinstance(sub, ast.For) and isinstance(sub.iter, ast.Name):
            text = f"{sub.iter.id}.__iter__"
        line = getattr(sub, "lineno", 0)
        if text is not None and (lines is None or lines[0] <= line <= lines[1]):
            found.append(Call(text, line))
    return found


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


def resolve_call(
    index: RepoIndex, src: SourceFile, scope: Definition, call: Call, files_in_play: set[str]
) -> list[tuple[str, Definition]]:
    """Project definitions `call` may run, as (file, definition); empty when it leaves the project."""
    head, _, rest = call.text.partition(".")
    if head in ("self", "cls") and rest and "." not in rest:
        owner = _enclosing_class(src, scope)
        methods = find_method(index, src, owner, rest) if owner else []
        if methods:
            return methods
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
    for path in sorted(files_in_play):
        other = index.source(path)
        if other is not None:
            hits += [(path, d) for d in other.defs if d.name == name and d.depth > 0 and d.kind == "def"]
    return hits[:4]


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
    types = local_types(func)
    for call in called(func.node):
        if lines is not None and not any(s <= call.line <= e for s, e in lines):
            continue
        head, _, attr = call.text.partition(".")
        if head in types and "." not in attr:
            maker = Call(types[head], call.line)
            resolved = _typed_method(index, src, func, maker, attr or "__call__", files_in_play)
        elif head == "self" and self_class and "." not in attr:
            resolved = find_method(index, src, self_class, attr) or resolve_call(
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
    index: RepoIndex, src: SourceFile, func: Definition, maker: Call, attr: str, files_in_play: set[str]
) -> list[tuple[str, Definition]]:
    """`attr` of what `maker` builds, when it builds one of the project's classes."""
    found = []
    for path, cls in resolve_call(index, src, func, maker, files_in_play):
        other = index.source(path)
        if cls.kind == "class" and other is not None:
            found += find_method(index, other, cls.qualname, attr)
    if not found and not attr.startswith("__"):
        found = resolve_call(index, src, func, Call(f"?.{attr}", maker.line), files_in_play)
    return found


def backward_slice(func: Definition, stmt: tuple[int, int]) -> list[tuple[int, int]]:
    """The failing statement and the earlier statements of `func` that assigned the local names it
    uses, transitively: `r = p.parse(s)` and `p = Parser(f)` for a failing `assert r[0] == 1`."""
    assigns: list[tuple[set[str], tuple[int, int], set[str]]] = []
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
    spans, frontier = [stmt], _names_on(func.node, stmt)
    for _ in range(6):
        new = set()
        for names, span, used in assigns:
            if names & frontier and span[0] < stmt[0] and span not in spans:
                spans.append(span)
                new |= used
        if not new:
            break
        frontier = new
    return spans


def _names_on(node: ast.AST, span: tuple[int, int]) -> set[str]:
    return {
        n.id for n in ast.walk(node)
        if isinstance(n, ast.Name) and span[0] <= n.lineno <= span[1]
    }  # fmt: skip


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
