"""A strict reader of `git diff` / `git format-patch` text: which files, which modes, which lines.

Standard library only. It reads what `git apply` would act on, so that the patch guard can check it
before git sees it: every `diff --git` section and every traditional `---`/`+++` pair, the extended
headers (modes, renames, copies, binary markers) and the hunks, whose line counts must add up. It
never raises on bad input; what does not parse is listed in `ParsedDiff.problems`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)")
_ESCAPES = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_MODE_HEADERS = ("old mode ", "new mode ", "deleted file mode ", "new file mode ")
_PATH_HEADERS = ("rename from ", "rename to ", "copy from ", "copy to ", "rename old ", "rename new ")


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list[str] = field(default_factory=list)  # each with its ' ', '+', '-' or '\\' prefix
    section: str = ""  # what git shows after the second @@: the enclosing function's line, often


@dataclass
class FilePatch:
    """One file's section of the diff; paths are repo-relative (the `a/`, `b/` prefix taken off)."""

    line: int  # 1-based line of the section's first header
    old_path: str | None = None  # None: /dev/null (a new file) or not stated
    new_path: str | None = None  # None: /dev/null (a deleted file) or not stated
    paths: list[str] = field(default_factory=list)  # every path any header of this section names
    modes: dict[str, str] = field(default_factory=dict)  # "old mode", "new file mode", "index", ... -> mode
    renamed: bool = False
    copied: bool = False
    binary: bool = False
    has_file_headers: bool = False  # both `---` and `+++` lines seen
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def added(self) -> list[str]:
        return [line[1:] for h in self.hunks for line in h.lines if line.startswith("+")]

    @property
    def removed(self) -> list[str]:
        return [line[1:] for h in self.hunks for line in h.lines if line.startswith("-")]


@dataclass
class ParsedDiff:
    files: list[FilePatch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "malformed diff: …" reasons

    @property
    def changed_lines(self) -> int:
        return sum(len(f.added) + len(f.removed) for f in self.files)


def unquote(name: str) -> str:
    """A path as git writes it: C-quoted (`"a/\\303\\251.py"`) when it holds special characters."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, out, i = name[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 == len(body):
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
        elif body[i + 1] in _ESCAPES:
            out += _ESCAPES[body[i + 1]].encode()
            i += 2
        elif re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out += body[i + 1].encode("utf-8", "surrogatepass")
            i += 2
    return out.decode("utf-8", "surrogateescape")


def _file_header_path(rest: str) -> str:
    """The name on a `---`/`+++` line: quoted, or up to a tab (git ends names holding spaces so)."""
    rest = rest.rstrip("\n")
    return unquote(rest) if rest.startswith('"') else rest.split("\t", 1)[0]


def _strip_prefix(raw: str, side: str, problems: list[str], lineno: int) -> str | None:
    if raw == "/dev/null":
        return None
    if not raw.startswith(side + "/"):
        problems.append(f"malformed diff: line {lineno}: path without the {side}/ prefix: {raw!r}")
        return raw
    return raw[2:]


def _git_header_paths(rest: str) -> list[str]:
    """The two names of `diff --git a/X b/Y`; [] when they cannot be told apart (renames say them)."""
    if rest.startswith('"'):
        end = re.match(r'"(?:[^"\\]|\\.)*"', rest)
        if not end:
            return []
        first, second = end.group(0), rest[end.end() + 1 :]
        return [unquote(first), unquote(second) if second.startswith('"') else second]
    if rest.endswith('"') and ' "' in rest:
        first, second = rest.rsplit(' "', 1)
        return [first, unquote('"' + second)]
    splits = [m.start() for m in re.finditer(" b/", rest)]
    same = [i for i in splits if rest[2:i] == rest[i + 3 :]]
    if same:
        return [rest[: same[0]], rest[same[0] + 1 :]]
    return [rest[: splits[0]], rest[splits[0] + 1 :]] if len(splits) == 1 else []


class _Reader:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.diff = ParsedDiff()
        self.current: FilePatch | None = None

    def problem(self, lineno: int, what: str) -> None:
        self.diff.problems.append(f"malformed diff: line {lineno}: {what}")

    def add_path(self, raw: str, side: str, lineno: int) -> str | None:
        assert self.current is not None
        path = _strip_prefix(raw, side, self.diff.problems, lineno)
        if path is not None and path not in self.current.paths:
            self.current.paths.append(path)
        return path

    def start(self, lineno: int) -> FilePatch:
        self.current = FilePatch(line=lineno)
        self.diff.files.append(self.current)
        return self.current

    def run(self) -> ParsedDiff:
        i = 0
        while i < len(self.lines):
            i = self.step(i)
        for f in self.diff.files:
            if f.hunks and not f.has_file_headers:
                self.problem(f.line, "hunks without ---/+++ file headers")
        return self.diff

    def step(self, i: int) -> int:
        line, lineno = self.lines[i], i + 1
        nxt = self.lines[i + 1] if i + 1 < len(self.lines) else ""
        cur = self.current
        if line.startswith("diff --git "):
            self.start(lineno)
            names = _git_header_paths(line[len("diff --git ") :])
            if not names:
                self.problem(lineno, "cannot tell the two paths of the diff --git header apart")
            for raw, side in zip(names, ("a", "b"), strict=False):
                self.add_path(raw, side, lineno)
            return i + 1
        if line.startswith("--- ") and nxt.startswith("+++ "):
            if cur is None or cur.hunks or cur.has_file_headers:
                cur = self.start(lineno)  # a traditional diff: git apply reads these too
            cur.has_file_headers = True
            for text, n in ((line, lineno), (nxt, lineno + 1)):
                if " " in text[4:] and "\t" not in text and not text[4:].startswith('"'):
                    # git ends such a name with a tab; without one, git apply would guess where a
                    # timestamp starts (`.env 2024-01-01 …` is `.env`), so there is no one reading
                    self.problem(n, f"a name with a space and no tab after it: {text[4:][:80]!r}")
            cur.old_path = self.add_path(_file_header_path(line[4:]), "a", lineno)
            cur.new_path = self.add_path(_file_header_path(nxt[4:]), "b", lineno + 1)
            return i + 2
        if line.startswith("@@"):
            return self.hunk(i)
        if line.startswith("GIT binary patch") or (line.startswith("Binary files ") and " differ" in line):
            if cur is None:
                cur = self.start(lineno)
            cur.binary = True
            return i + 1
        if cur is not None and not cur.hunks:
            self.extended_header(line, lineno)
        elif cur is not None and line[:1] in "+- " and line and not line.startswith("-- "):
            self.problem(lineno, "a hunk has more lines than its @@ header counts")
        return i + 1

    def extended_header(self, line: str, lineno: int) -> None:
        cur = self.current
        assert cur is not None
        for prefix in _MODE_HEADERS:
            if line.startswith(prefix):
                cur.modes[prefix.strip()] = line[len(prefix) :].strip()
        if line.startswith("index ") and " " in line[6:]:
            cur.modes["index"] = line.rsplit(" ", 1)[1].strip()
        for prefix in _PATH_HEADERS:
            if line.startswith(prefix):
                raw = line[len(prefix) :]
                path = unquote(raw) if raw.startswith('"') else raw
                if path and path not in cur.paths:
                    cur.paths.append(path)
                cur.renamed |= prefix.startswith("rename")
                cur.copied |= prefix.startswith("copy")

    def hunk(self, i: int) -> int:
        m = _HUNK.match(self.lines[i])
        if self.current is None or not m:
            self.problem(
                i + 1, "a hunk header that cannot be read" if not m else "a hunk before any file header"
            )
            return i + 1
        old_len = int(m.group(2)) if m.group(2) is not None else 1
        new_len = int(m.group(4)) if m.group(4) is not None else 1
        hunk = Hunk(int(m.group(1)), old_len, int(m.group(3)), new_len, section=m.group(5))
        self.current.hunks.append(hunk)
        i += 1
        while (old_len > 0 or new_len > 0) and i < len(self.lines):
            line = self.lines[i]
            kind = line[:1] or " "  # an empty line is an empty context line, as git apply reads it
            if kind not in " +-\\" or line.startswith(("diff --git ", "@@")):
                break
            old_len -= kind in " -"
            new_len -= kind in " +"
            hunk.lines.append(line or " ")
            i += 1
        while i < len(self.lines) and self.lines[i].startswith("\\"):
            hunk.lines.append(self.lines[i])  # "\ No newline at end of file" after the last line
            i += 1
        if old_len != 0 or new_len != 0:
            self.problem(i, f"a hunk's lines do not add up to its @@ header ({self.lines[i - 1][:60]!r})")
        return i


def parse_diff(text: str) -> ParsedDiff:
    """Every file section of `text`, with the problems that make it malformed."""
    return _Reader(text).run()
