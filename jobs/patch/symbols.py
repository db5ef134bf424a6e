"""The checkout's Python files, found by path, module or symbol name, without importing anything.

`RepoIndex` lists the files once, parses a file with `ast` only when evidence points into it, and
builds a name index over every file (a line regex, not a parse) only when a lexical search needs it.
Frame paths from elsewhere (a CI runner's absolute path, a site-packages install of the project)
map to repository files by the longest matching path suffix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from jobs.patch.outline import Definition, SourceFile, module_name, read_source

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "site-packages",
        "dist-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "dist",
        ".eggs",
    }
)
MAX_FILES = 50_000
MAX_INDEX_BYTES = 1_000_000  # files larger than this are left out of the name index
_DEF_LINE = re.compile(rb"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_INSTALLED = re.compile(r"/(?:site|dist)-packages/")


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(p in ("tests", "test", "testing") for p in parts[:-1])
    )


def list_python_files(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        found.extend(prefix + f for f in sorted(filenames) if f.endswith(".py"))
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


@dataclass
class RepoIndex:
    root: Path
    files: list[str] = field(default_factory=list)
    _parsed: dict[str, SourceFile] = field(default_factory=dict)
    _modules: dict[str, list[str]] | None = None
    _names: dict[str, list[tuple[str, int]]] | None = None
    _basenames: dict[str, list[str]] | None = None

    @classmethod
    def build(cls, root: Path) -> RepoIndex:
        return cls(root, list_python_files(root))

    def source(self, path: str) -> SourceFile | None:
        if path not in self._parsed:
            try:
                self._parsed[path] = read_source(self.root, path)
            except OSError:
                return None
        return self._parsed[path]

    def map_path(self, path: str, *, project: bool = True) -> str | None:
        """The repository file a frame's path names: the file itself, or the file sharing the longest
        path suffix with it. A dependency's frame maps only through a site-packages install whose
        whole package path is in the repository (`…/site-packages/pkg/mod.py` -> `src/pkg/mod.py`)."""
        p = path.replace("\\", "/")
        installed = _INSTALLED.split(p)[-1] if _INSTALLED.search(p) else None
        if not project and installed is None:
            return None
        want = (installed or p.lstrip("./")).split("/")
        best, best_len = None, 0
        for cand in self._by_basename().get(want[-1], []):
            have = cand.split("/")
            n = 0
            while n < min(len(have), len(want)) and have[-1 - n] == want[-1 - n]:
                n += 1
            if n > best_len or (n == best_len and best is not None and len(cand) < len(best)):
                best, best_len = cand, n
        if best is None or (installed is not None and best_len < len(want)):
            return None
        return best

    def _by_basename(self) -> dict[str, list[str]]:
        if self._basenames is None:
            self._basenames = {}
            for f in self.files:
                self._basenames.setdefault(f.rsplit("/", 1)[-1], []).append(f)
        return self._basenames

    def module_files(self, dotted: str) -> list[str]:
        """Files whose module name is `dotted` or ends with `.dotted` (src/ layouts, sub-projects)."""
        if self._modules is None:
            self._modules = {}
            for f in self.files:
                parts = module_name(f).split(".")
                for i in range(len(parts)):
                    self._modules.setdefault(".".join(parts[i:]), []).append(f)
        return sorted(self._modules.get(dotted, []), key=len)

    def resolve(self, dotted: str, hops: int = 3) -> tuple[str, Definition | None] | None:
        """A dotted name (`pkg.mod.Class.method`) -> (file, definition or None for a module),
        following re-exports (`from .ops import add` in `pkg/__init__.py`) up to `hops` times."""
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            for path in self.module_files(".".join(parts[:i]))[:2]:
                rest = parts[i:]
                if not rest:
                    return path, None
                src = self.source(path)
                if src is None:
                    continue
                qual = ".".join(rest)
                match = next((d for d in src.defs if d.qualname == qual), None)
                if match is not None:
                    return path, match
                alias = src.class_attrs.get(rest[0]) if len(rest) == 1 or rest[0] not in src.imports else None
                if alias and hops > 0 and alias != rest[0]:  # `OMD = OrderedMultiDict`
                    local = next((d for d in src.defs if d.qualname == ".".join([alias, *rest[1:]])), None)
                    if local is not None:
                        return path, local
                target = src.imports.get(rest[0])
                if target and hops > 0 and target != dotted:
                    found = self.resolve(".".join([target, *rest[1:]]), hops - 1)
                    if found is not None:
                        return found
                for star in src.star_imports if hops > 0 else []:
                    found = self.resolve(f"{star}.{qual}", hops - 1)
                    if found is not None:
                        return found
        return None

    def names(self) -> dict[str, list[tuple[str, int]]]:
        """Every `def`/`class` name in the repository -> [(file, line)], from a line regex."""
        if self._names is None:
            self._names = {}
            for f in self.files:
                try:
                    data = (self.root / f).read_bytes()
                except OSError:
                    continue
                if len(data) > MAX_INDEX_BYTES:
                    continue
                line, pos = 1, 0
                for m in _DEF_LINE.finditer(data):
                    line, pos = line + data.count(b"\n", pos, m.start()), m.start()
                    self._names.setdefault(m[1].decode(), []).append((f, line))
        return self._names
