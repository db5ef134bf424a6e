"""Streaming parser for `path:line[:col]: message` tools: linters, type checkers and compilers.

Recognised: mypy, ruff (concise and the `-->` pointer format), flake8, pylint, pyright, tsc (both
formats), eslint's stylish blocks, gcc/clang, javac, go build, pytorch's lintrunner, and Python's own
`SyntaxError` report. Only lines in one of these shapes count, so the pytest `path:line: message`
lines of a test log are not mistaken for lint. Errors are kept; warnings only when no error exists
(and then only a lint tool's, since a compiler's warnings do not fail a build).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sandbox_runner.failure import MAX_ERROR_LINES, MAX_MESSAGE_CHARS, FailureClass, Finding, Location

_GHA_PREFIX = re.compile(r"^##\[(?:error|warning)\]")
_PATH = r"(?P<path>(?:[A-Za-z]:)?[^\s:()\"'<>|]*[^\s:()\"'<>|.]\.[A-Za-z0-9_+]{1,6})"
_C_EXT = frozenset({"c", "cc", "cpp", "cxx", "c++", "h", "hh", "hpp", "hxx", "cu", "cuh", "m", "mm", "inl"})
_TS_EXT = frozenset({"ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "vue", "svelte"})

# mypy, gcc/clang, javac, mypy with columns: `path:12[:5]: error: message  [code]`
_SEVERITY = re.compile(
    rf"^\s*{_PATH}:(?P<line>\d+)(?::(?P<col>\d+))?: (?P<sev>fatal error|error|warning|note): (?P<msg>.*)$"
)
_MYPY_CODE = re.compile(r"\s+\[(?P<code>[a-z][a-z0-9-]*)\]$")
_GCC_FLAG = re.compile(r"\s+\[(?P<code>-W[\w=+-]+)\]$")
# ruff (concise) and flake8 `path:1:8: F401 message`; pylint `path:1:0: C0114: message (symbol)`
_LINT_CODE = re.compile(
    rf"^\s*{_PATH}:(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]{{1,4}}\d{{2,4}}|invalid-syntax)(?P<colon>:?)"
    r"(?: \[\*\])? (?P<msg>.*)$"
)
_PYRIGHT = re.compile(
    rf"^\s*{_PATH}:(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning|information): (?P<msg>.*?)"
    r"(?: \((?P<code>report\w+)\))?$"
)
_TSC_TAIL = r"(?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
_TSC_PAREN = re.compile(rf"^\s*{_PATH}\((?P<line>\d+),(?P<col>\d+)\): {_TSC_TAIL}")
_TSC_DASH = re.compile(rf"^\s*{_PATH}:(?P<line>\d+):(?P<col>\d+) - {_TSC_TAIL}")
_GO_BUILD = re.compile(r"^\s*(?P<path>[^\s:]+\.go):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")
# ruff's full format: a `F401 [*] message` header, then ` --> path:1:8`
_RUFF_HEAD = re.compile(r"^(?P<code>[A-Z]{1,4}\d{2,4}|[a-z]+(?:-[a-z]+)+)(?: \[\*\])?:? (?P<msg>.+)$")
_RUFF_ARROW = re.compile(rf"^\s*--> {_PATH}:(?P<line>\d+):(?P<col>\d+)\s*$")
_MAYBE_LOCATION = re.compile(
    r"\.[A-Za-z0-9_+]{1,6}(?::\d|\(\d)"
)  # `.ext:12` or `.ext(12`: worth a closer look
_ESLINT_EXT = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte")
# eslint stylish: a path alone on a line, then `  12:5  error  message  rule-name`
_ESLINT_FILE = re.compile(r"^(?P<path>(?:[A-Za-z]:)?[/\\.]?[^\s:]*\.(?:[cm]?[jt]sx?|vue|svelte))\s*$")
_ESLINT_ROW = re.compile(
    r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<code>\S+))?\s*$"
)
# lintrunner: `>>> Lint for path:`, `  Error (LINTER) code`, message lines, `>>>  14  |code`
_LR_FILE = re.compile(r"^>>> Lint for (?P<path>\S+):\s*$")
_LR_HEAD = re.compile(r"^\s+(?P<sev>Error|Warning|Advice|Disabled) \((?P<linter>[\w-]+)\) (?P<code>\S+)\s*$")
_LR_LINE = re.compile(r"^\s+>>>\s+(?P<line>\d+)\s+\|")
# Python: `  File "x.py", line 7` ... `SyntaxError: message`
_PY_FILE = re.compile(r'^(?:E\s+)?\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in .*)?$')
_PY_CARET = re.compile(r"^(?:E\s+)?(?P<pad>\s*)\^+\s*$")
_PY_SYNTAX = re.compile(
    r"^(?:E\s+)?(?P<type>(?:\w+\.)*(?:SyntaxError|IndentationError|TabError)): (?P<msg>.*)$"
)

_SYNTAX, _BUILD, _LINT = FailureClass.SYNTAX_ERROR, FailureClass.BUILD_ERROR, FailureClass.LINT_ERROR
_RANK = {_SYNTAX: 0, _BUILD: 1, _LINT: 2}
_LABEL = {_SYNTAX: "syntax error", _BUILD: "compiler error", _LINT: "lint error"}


@dataclass(frozen=True)
class _Hit:
    location: Location
    tool: str
    kind: FailureClass
    error: bool


def _cap(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _loc(path: str, line: str | None, col: str | None, msg: str, code: str | None = None) -> Location:
    return Location(
        file=path,
        line=int(line) if line else None,
        column=int(col) if col else None,
        message=_cap(msg),
        code=code,
    )


def _ext(path: str) -> str:
    return path.rsplit(".", 1)[-1].lower()


def parse_severity_line(line: str) -> _Hit | None:
    """mypy, gcc/clang and javac: `path:line[:col]: error|warning|note: message`."""
    m = _SEVERITY.match(line)
    if not m:
        return None
    path, msg, sev, ext = m["path"], m["msg"], m["sev"], _ext(m["path"])
    if sev == "note":
        return None
    code = None
    if ext in ("py", "pyi"):
        tool, kind = "mypy", _LINT
        if c := _MYPY_CODE.search(msg):
            code, msg = c["code"], msg[: c.start()]
        if code == "syntax":
            kind = _SYNTAX
    else:
        tool = {"java": "javac", "go": "go", "rs": "rustc"}.get(ext, "gcc" if ext in _C_EXT else ext)
        kind = _BUILD
        if c := _GCC_FLAG.search(msg):
            code, msg = c["code"].lstrip("-").removeprefix("Werror="), msg[: c.start()]
    return _Hit(_loc(path, m["line"], m["col"], msg, code), tool, kind, error=sev != "warning")


def parse_single_line(line: str) -> _Hit | None:
    """Every one-line format: severity lines, lint codes, pyright, tsc, go build."""
    if hit := parse_severity_line(line):
        return hit
    if m := _LINT_CODE.match(line):
        code, msg = m["code"], m["msg"]
        if code == "invalid-syntax":
            return _Hit(_loc(m["path"], m["line"], m["col"], msg, code), "ruff", _SYNTAX, True)
        tool = "pylint" if m["colon"] else ("ruff" if "[*]" in line else "flake8")
        return _Hit(_loc(m["path"], m["line"], m["col"], msg, code), tool, _LINT, True)
    if m := _PYRIGHT.match(line):
        loc = _loc(m["path"], m["line"], m["col"], m["msg"], m["code"])
        return None if m["sev"] == "information" else _Hit(loc, "pyright", _LINT, m["sev"] == "error")
    if m := _TSC_PAREN.match(line) or _TSC_DASH.match(line):
        return _Hit(
            _loc(m["path"], m["line"], m["col"], m["msg"], m["code"]), "tsc", _LINT, m["sev"] == "error"
        )
    if m := _GO_BUILD.match(line):
        return _Hit(_loc(m["path"], m["line"], m["col"], m["msg"]), "go", _BUILD, True)
    return None


class ToolParser:
    """Locations of linter, type-checker and compiler findings, the first error's class deciding."""

    name = "tool"

    def __init__(self) -> None:
        self.tool: str | None = None  # the tool of the first error kept (or warning, when no error)
        self._errors: list[_Hit] = []
        self._warnings: list[_Hit] = []
        self._prev = ""  # the line before, for ruff's `-->` and eslint's file header
        self._eslint_file: str | None = None
        self._lr_file: str | None = None
        self._lr_head: tuple[str, str, str] | None = None  # severity, linter, code: awaiting a message
        self._lr_last: int | None = None  # index in its list of the last lintrunner hit, for its line
        self._lr_wrapping = False  # the last lintrunner hit's message may go on
        self._py_file: tuple[str, str, int] | None = None  # path, line, lines since

    def feed(self, line: str) -> None:
        if line.startswith("##["):  # a marker the cleaner did not know
            line = _GHA_PREFIX.sub("", line)
        prev, self._prev = self._prev, line
        # Every shape read here names a file with an extension, but for a lintrunner header and a
        # Python `File "<string>"`; a line with none of them only matters inside a block.
        if (
            "." in line
            or 'File "' in line
            or line.startswith(">>> Lint for ")
            or self._py_file is not None
            or self._lr_file is not None
            or self._eslint_file is not None
        ):
            self._feed(line, prev)

    def _feed(self, line: str, prev: str) -> None:
        if (self._py_file is not None or 'File "' in line) and self._feed_python_syntax(line):
            return
        if (self._lr_file is not None or line.startswith(">>> Lint for ")) and self._feed_lintrunner(line):
            return
        if self._feed_eslint(line):
            return
        if "-->" in line and (m := _RUFF_ARROW.match(line)):
            head = _RUFF_HEAD.match(prev.strip())
            if head:
                kind = _SYNTAX if head["code"] == "invalid-syntax" else _LINT
                loc = _loc(m["path"], m["line"], m["col"], head["msg"], head["code"])
                self._add(_Hit(loc, "ruff", kind, True))
            return
        if _MAYBE_LOCATION.search(line) and (hit := parse_single_line(line)):
            self._add(hit)

    def _feed_python_syntax(self, line: str) -> bool:
        if 'File "' in line and (m := _PY_FILE.match(line)):
            self._py_file = (m["path"], m["line"], 0)
            return True
        if self._py_file is None:
            return False
        path, lineno, since = self._py_file
        if since > 4:
            self._py_file = None
            return False
        self._py_file = (path, lineno, since + 1)
        if _PY_CARET.match(line):
            return True
        if m := _PY_SYNTAX.match(line):
            # no column: Python shows the source line stripped, so the caret's offset is not the column
            loc = _loc(path, lineno, None, f"{m['type']}: {m['msg']}", m["type"])
            self._add(_Hit(loc, "python", _SYNTAX, True))
            self._py_file = None
            return True
        return False

    def _feed_lintrunner(self, line: str) -> bool:
        if line.startswith(">>> Lint for ") and (m := _LR_FILE.match(line)):
            self._lr_file, self._lr_head, self._lr_last = m["path"], None, None
            return True
        if self._lr_file is None:
            return False
        if m := _LR_HEAD.match(line):
            self._lr_head, self._lr_last = (m["sev"], m["linter"], m["code"]), None
            return True
        if self._lr_head and line.strip():
            sev, linter, code = self._lr_head
            self._lr_head = None
            if sev in ("Error", "Warning"):  # lintrunner fails on both
                loc = _loc(self._lr_file, None, None, f"({linter}) {line.strip()}", code)
                hit = _Hit(loc, "lintrunner", _LINT, True)
                self._lr_last = len(self._errors) - 1 if self._add(hit, once=False) else None
                self._lr_wrapping = self._lr_last is not None
            return True
        if self._lr_last is None:
            return False
        hit = self._errors[self._lr_last]
        if m := _LR_LINE.match(line):
            if hit.location.line is None:
                self._errors[self._lr_last] = replace(
                    hit, location=replace(hit.location, line=int(m["line"]))
                )
            self._lr_wrapping = False
            return True
        if self._lr_wrapping:  # the message wraps onto the following lines, up to a blank or a link
            more = line.strip()
            if not more or more.startswith(("See http", "To disable")):
                self._lr_wrapping = False
            else:
                sep = "" if hit.location.message.endswith("-") else " "
                message = _cap(hit.location.message + sep + more)
                self._errors[self._lr_last] = replace(hit, location=replace(hit.location, message=message))
            return True
        return False

    def _feed_eslint(self, line: str) -> bool:
        if line.rstrip().endswith(_ESLINT_EXT) and not line.startswith(" ") and _ESLINT_FILE.match(line):
            self._eslint_file = line.strip()
            return True
        if self._eslint_file is None:
            return False
        if m := _ESLINT_ROW.match(line):
            hit = _loc(self._eslint_file, m["line"], m["col"], m["msg"], m["code"])
            self._add(_Hit(hit, "eslint", _LINT, m["sev"] == "error"))
            return True
        if line.strip():
            self._eslint_file = None
        return False

    def _add(self, hit: _Hit, once: bool = True) -> bool:
        """Keep a hit (up to the cap, once unless told); True when it was appended to the errors."""
        if hit.error:
            if len(self._errors) < MAX_ERROR_LINES and not (once and hit in self._errors):
                self._errors.append(hit)
                return True
        elif len(self._warnings) < MAX_ERROR_LINES and hit not in self._warnings and hit.kind is _LINT:
            self._warnings.append(hit)
        return False

    def result(self) -> Finding | None:
        hits = self._errors or self._warnings
        if not hits:
            return None
        kind = min((h.kind for h in hits), key=_RANK.__getitem__)
        first = next(h for h in hits if h.kind is kind)
        self.tool = first.tool
        return Finding(
            parser=self.name,
            exception_type=first.location.code if first.tool == "python" else f"{_LABEL[kind]} ({self.tool})",
            message=first.location.message,
            locations=[h.location for h in hits],
            error_lines=[_render(h) for h in hits[:MAX_ERROR_LINES]],
            failure_class=kind,
        )


def _render(hit: _Hit) -> str:
    loc = hit.location
    where = ":".join(str(p) for p in (loc.file, loc.line, loc.column) if p is not None)
    code = f" [{loc.code}]" if loc.code else ""
    return f"{where}: {loc.message}{code}"
