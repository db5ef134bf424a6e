"""Streaming parsers for Python test runners and tracebacks: pytest, unittest, doctest, plain tracebacks.

Each class implements `failure.LineParser`: it is fed cleaned lines one at a time and keeps a
bounded amount of state (the first failure's frames and exception, capped lists of test ids), so
a log of any length parses in constant memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox_runner.failure import (
    MAX_ERROR_LINES,
    MAX_FRAMES,
    MAX_MESSAGE_CHARS,
    MAX_TESTS,
    FailureClass,
    Finding,
    Frame,
    is_project_path,
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$)")
_TRACEBACK = re.compile(r"^(?P<indent>\s*)Traceback \(most recent call last\):\s*$")
_NATIVE_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_CHAIN = re.compile(
    r"^\s*(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*$"
)
_EXC_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_EXC_LINE = re.compile(rf"^(?P<type>{_EXC_NAME})(?::\s?(?P<msg>.*))?$")
_MAX_STRAY = 8  # unrelated lines tolerated inside a traceback (stdout and stderr interleave in CI)
_EXC_SUFFIX = re.compile(r"(?:Error|Exception|Warning|Interrupt|Exit|Failed|Failure|Expired|Timeout)$")


def clean(line: str) -> str:
    """Tolerate what a cleaner may have missed: ANSI codes and line endings."""
    return _TIMESTAMP.sub("", _ANSI.sub("", line)).rstrip("\r\n")


def cap(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def parse_exception_line(text: str, strict: bool = True) -> tuple[str, str | None] | None:
    """`pkg.FooError: message` -> ("pkg.FooError", "message"). With `strict`, the name must look
    like an exception class (…Error, …Exception, …Warning, KeyboardInterrupt, …)."""
    m = _EXC_LINE.match(text.strip())
    if not m:
        return None
    name = m["type"]
    if strict and not _EXC_SUFFIX.search(name):
        return None
    if not strict and not (name[0].isupper() or "." in name):
        return None
    return name, (cap(m["msg"]) if m["msg"] else None)


def make_frame(file: str, line: str | int | None, function: str | None) -> Frame:
    return Frame(
        file=file,
        line=int(line) if line is not None else None,
        function=function,
        project=is_project_path(file),
    )


def push_capped(items: list[Frame], frame: Frame) -> None:
    """Keep the innermost MAX_FRAMES frames."""
    items.append(frame)
    if len(items) > MAX_FRAMES:
        del items[0]


@dataclass
class Chain:
    """One printed exception, possibly chained: frames of every part (root first) and the exception
    line of every part, root cause first and last raise last."""

    frames: list[Frame] = field(default_factory=list)
    exceptions: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def last(self) -> tuple[str, str | None] | None:
        return self.exceptions[-1] if self.exceptions else None

    def error_lines(self) -> list[str]:
        return [cap(f"{t}: {m}" if m else t) for t, m in self.exceptions][:MAX_ERROR_LINES]

    def add_exception(self, exc: tuple[str, str | None]) -> None:
        if len(self.exceptions) >= MAX_ERROR_LINES:
            del self.exceptions[1]  # keep the root cause
        self.exceptions.append(exc)


class TracebackReader:
    """Reads native `Traceback (most recent call last):` blocks and their chains, line by line.
    `feed` returns a finished Chain when one ends (a chain ends at the first line after an
    exception line that is neither blank, a chain marker, nor a new traceback)."""

    def __init__(self) -> None:
        self.chain: Chain | None = None
        self.state = "idle"  # idle | frames | after
        self.indent = 0

    def feed(self, line: str) -> Chain | None:
        done: Chain | None = None
        m = _TRACEBACK.match(line)
        if m:
            if self.state == "frames" or (self.state == "after" and not self._chained):
                done = self._finish()
            if self.chain is None:
                self.chain = Chain()
            self.state, self.indent, self._chained, self._stray = "frames", len(m["indent"]), False, 0
            return done
        if self.state == "idle":
            return None
        body = line[self.indent :] if line[: self.indent].strip() == "" else line.lstrip()
        if self.state == "frames":
            f = _NATIVE_FRAME.match(body)
            if f:
                assert self.chain is not None
                push_capped(self.chain.frames, make_frame(f["file"], f["line"], f["func"]))
            elif body and not body[0].isspace():
                exc = parse_exception_line(body, strict=False)
                if exc is None:  # another stream's line interleaved, or not a traceback after all
                    self._stray += 1
                    if self._stray > _MAX_STRAY:
                        self.state = "idle"
                        return self._finish()
                    return None
                assert self.chain is not None
                self.chain.add_exception(exc)
                self.state = "after"
            return None
        # after an exception line: blank lines, message continuation, chain markers
        if _CHAIN.match(line):
            self._chained = True
        elif line.strip() and line[: self.indent + 1].strip() != "":
            self.state = "idle"
            return self._finish()
        return None

    _chained = False
    _stray = 0

    def _finish(self) -> Chain | None:
        chain, self.chain = self.chain, None
        return chain if chain is not None and chain.exceptions else None

    def close(self) -> Chain | None:
        self.state = "idle"
        return self._finish()


def _primary(current: Chain | None, new: Chain) -> Chain:
    """The first traceback of a log is usually the cause of later ones (wrappers, atexit noise);
    an interruption gives way to a real error."""
    if current is None:
        return new
    last = current.last
    if (
        last
        and last[0] in ("KeyboardInterrupt", "SystemExit")
        and new.last
        and new.last[0] not in ("KeyboardInterrupt", "SystemExit")
    ):
        return new
    return current


def finding_from_chain(parser: str, chain: Chain) -> Finding:
    last = chain.last
    assert last is not None
    exc_type = last[0]
    failure_class = (
        FailureClass.IMPORT_ERROR if exc_type.endswith(("ImportError", "ModuleNotFoundError")) else None
    )
    if exc_type == "SyntaxError" or exc_type.endswith("IndentationError"):
        failure_class = FailureClass.SYNTAX_ERROR
    elif exc_type.endswith(("OutOfMemoryError", "MemoryError")):
        failure_class = FailureClass.OUT_OF_MEMORY
    return Finding(
        parser=parser,
        exception_type=exc_type,
        message=last[1],
        frames=list(chain.frames),
        error_lines=chain.error_lines(),
        failure_class=failure_class,
    )


class TracebackParser:
    """Plain Python tracebacks anywhere in a log. Reports the first printed traceback (chained
    ones as one): `exception_type`/`message` are the last raise, `error_lines` the exception line
    of every link, root cause first, and `frames` those of every link (root cause first)."""

    name = "traceback"

    def __init__(self) -> None:
        self._reader = TracebackReader()
        self._chain: Chain | None = None
        self._count = 0

    def feed(self, line: str) -> None:
        done = self._reader.feed(clean(line))
        if done is not None:
            self._take(done)

    def _take(self, chain: Chain) -> None:
        self._count += 1
        self._chain = _primary(self._chain, chain)

    def result(self) -> Finding | None:
        done = self._reader.close()
        if done is not None:
            self._take(done)
        return finding_from_chain(self.name, self._chain) if self._chain else None


# --- pytest -------------------------------------------------------------------------------------

_SECTION = re.compile(r"^={3,} ?(?P<title>.*?) ?={3,}$")
_HEADER = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_CAPTURED = re.compile(r"^-{3,} Captured .*-{3,}$")
_BANNER = re.compile(r"^!{3,} (?P<title>.*?) !{3,}$")
_ID = r"(?P<id>[^\s\[]+(?:\[[^\]]*\])?)"
_STATUS = r"PASSED|FAILED|ERROR|RERUN|SUBFAIL|SUBPASS|XPASS|XFAIL|SKIPPED"
_SUMMARY = re.compile(
    rf"^(?:\[gw\d+\]\s+)?(?:\[\s*\d+%\]\s+)?(?P<status>{_STATUS})(?: CONSISTENTLY:)?\s+"
    rf"(?:\[[\d.]+s\]\s+)?{_ID}(?P<rest>.*)$"
)
_VERBOSE = re.compile(
    rf"^{_ID}(?: <- \S+)?(?:\s+(?:\[[^\]]*\]|\([^)]*\)))*\s+"
    rf"(?:(?P<status>{_STATUS})\b|\('(?P<status2>RERUN)')"
)
_SUBFAILED = re.compile(r"^SUBFAILED(?:\[[^\]]*\])?(?: \([^)]*\))?")  # pytest 9: SUBFAILED[msg] (i=1) id
_RUNNING = re.compile(rf"^{_ID}(?: <- \S+)?\s*$")
_LOCATION = re.compile(r"^(?P<file>(?:[A-Za-z]:)?[^\s:]+?\.py|<[^>\s]+>):(?P<line>\d+):(?: (?P<rest>.*))?$")
_SETUP_FILE = re.compile(r"^file (?P<file>\S+\.py), line (?P<line>\d+)$")
_DEF = re.compile(r"^[>\s]{0,12}(?:async\s+)?def\s+(?P<func>\w+)\s*\(")
_E_LINE = re.compile(r"^E\s+(?P<text>.*)$")
_BLOCK_SECTIONS = ("FAILURES", "ERRORS", "RERUNS")


def _looks_like_id(node_id: str) -> bool:
    return "::" in node_id or node_id.endswith(".py")


def _exception_from_text(text: str) -> tuple[str, str | None] | None:
    exc = parse_exception_line(text)
    if exc is None and text.startswith("assert"):
        return "AssertionError", cap(text)
    return exc


@dataclass
class _Block:
    """One `_____ name _____` section of FAILURES/ERRORS/RERUNS."""

    title: str
    kind: str
    chain: Chain = field(default_factory=Chain)
    reader: TracebackReader = field(default_factory=TracebackReader)
    first_file: str | None = None
    def_hint: str | None = None
    location_exc: str | None = None
    e_exc: tuple[str, str | None] | None = None
    e_lines: list[str] = field(default_factory=list)
    captured: bool = False

    def feed(self, line: str) -> None:
        if self.captured:
            return
        if _CAPTURED.match(line):
            self.captured = True
            return
        was_idle = self.reader.state == "idle"
        done = self.reader.feed(line)
        if done is not None:
            self._merge(done)
        if not was_idle or self.reader.state != "idle":
            return
        if m := _NATIVE_FRAME.match(line):  # frames without a Traceback header ("from user code:")
            push_capped(self.chain.frames, make_frame(m["file"], m["line"], m["func"]))
        elif m := _LOCATION.match(line):
            self._location(m["file"], m["line"], m["rest"] or "")
        elif m := _SETUP_FILE.match(line):
            push_capped(self.chain.frames, make_frame(m["file"], m["line"], None))
            self.first_file = self.first_file or m["file"]
        elif m := _E_LINE.match(line):
            text = m["text"].strip()
            if text and len(self.e_lines) < 20:
                self.e_lines.append(cap(text))
            if self.e_exc is None and text:
                self.e_exc = _exception_from_text(text)
        elif m := _DEF.match(line):
            self.def_hint = m["func"]

    def _location(self, file: str, line: str, rest: str) -> None:
        func = rest[3:].strip() if rest.startswith("in ") else self.def_hint
        push_capped(self.chain.frames, make_frame(file, line, func))
        self.first_file = self.first_file or file
        self.def_hint = None
        if rest and not rest.startswith("in "):
            exc = _exception_from_text(rest)
            if exc is not None:
                self.location_exc = exc[0]
                if self.e_exc is None and exc[1]:
                    self.e_exc = exc

    def _merge(self, chain: Chain) -> None:
        for frame in chain.frames:
            push_capped(self.chain.frames, frame)
        for exc in chain.exceptions:
            self.chain.add_exception(exc)

    def close(self) -> None:
        done = self.reader.close()
        if done is not None:
            self._merge(done)
        if self.chain.exceptions:
            return
        if self.location_exc:
            same = self.e_exc is not None and self.e_exc[0] == self.location_exc
            message = self.e_exc[1] if same and self.e_exc else (self.e_lines[0] if self.e_lines else None)
            self.chain.add_exception((self.location_exc, message))
        elif self.e_exc is not None:
            self.chain.add_exception(self.e_exc)

    def test_name(self) -> tuple[str, bool] | None:
        """(name as pytest prints it in node ids, is a collection error), or None for non-tests."""
        title = self.title
        if title.startswith("ERROR collecting "):
            return title.removeprefix("ERROR collecting "), True
        for prefix in ("ERROR at setup of ", "ERROR at teardown of "):
            title = title.removeprefix(prefix)
        if " " in title.split("[", 1)[0]:
            return None
        head, bracket, param = title.partition("[")
        return head.replace(".", "::") + bracket + param, False


class PytestParser:
    """pytest output in every `--tb` style, with `-ra` summaries, xdist, reruns and subtests."""

    name = "pytest"

    def __init__(self) -> None:
        self._failed: dict[str, None] = {}
        self._failed_total = 0
        self._reruns: set[str] = set()
        self._flaky: dict[str, None] = {}
        self._unresolved: list[tuple[str, str | None]] = []
        self._section: str | None = None
        self._block: _Block | None = None
        self._first: Chain | None = None  # the first failure's traceback (FAILURES before ERRORS)
        self._first_lines: list[str] = []
        self._first_is_error = False
        self._loose_first: Chain | None = None  # a traceback outside any failure section
        self._interrupted_ids: set[str] = set()
        self._summary_is_error = False
        self._summary_frames: list[Frame] = []  # `File ...` lines printed under a summary line
        self._after_summary = False
        self._seen = False  # any line only pytest prints
        self._summary_exc: tuple[str, str | None] | None = None
        self._collection_error = False
        self._interrupted = False
        self._running: str | None = None
        self._loose = TracebackReader()

    def feed(self, line: str) -> None:
        line = clean(line)
        if m := _SECTION.match(line):
            self._seen = True
            self._after_summary = False
            self._close_block()
            self._section = m["title"].strip()
            return
        if m := _HEADER.match(line):
            self._close_block()
            if self._section in _BLOCK_SECTIONS:
                kind = {"RERUNS": "rerun", "ERRORS": "error"}.get(self._section, "failure")
                self._block = _Block(title=m["title"].strip(), kind=kind)
            return
        if self._block is not None:
            self._block.feed(line)
            return
        self._status_line(line)
        if m := _BANNER.match(line):
            if "KeyboardInterrupt" in m["title"]:
                self._interrupted = True
                if self._running:
                    self._add_failed(self._running)
                    self._interrupted_ids.add(self._running)
        elif (self._section in _BLOCK_SECTIONS or self._interrupted) and (m := _LOCATION.match(line)):
            self._line_style(m["file"], m["line"], m["rest"] or "")
        else:
            done = self._loose.feed(line)
            if done is not None and self._loose_first is None:
                self._loose_first = done

    def _line_style(self, file: str, line: str, rest: str) -> None:
        """`--tb=line` (and the interruption note): `path:line: message`, one per failure."""
        block = _Block(title="", kind="line")
        block._location(file, line, rest)
        if block.location_exc is None and rest:
            block.e_lines.append(cap(rest))
        block.close()
        is_error = self._section == "ERRORS"
        if (self._first is None or (self._first_is_error and not is_error)) and (
            block.chain.exceptions or block.chain.frames
        ):
            self._first, self._first_is_error = block.chain, is_error

    def _status_line(self, line: str) -> None:
        line = _SUBFAILED.sub("SUBFAIL", line)
        m = _SUMMARY.match(line) or _VERBOSE.match(line)
        if m is None:
            if (r := _RUNNING.match(line)) and "::" in r["id"]:
                self._running = r["id"]
            elif self._after_summary and (f := _NATIVE_FRAME.match(line)):
                push_capped(self._summary_frames, make_frame(f["file"], f["line"], f["func"]))
            return
        node_id, status = m["id"], m["status"] or m["status2"]
        if not _looks_like_id(node_id):
            return
        self._running, self._seen, self._after_summary = None, True, False
        if status in ("FAILED", "ERROR", "SUBFAIL"):
            self._add_failed(node_id)
            if status == "ERROR" and "::" not in node_id:
                self._collection_error = True
            rest = m.groupdict().get("rest") or ""
            replace = self._summary_exc is None or (self._summary_is_error and status != "ERROR")
            if replace and " - " in rest and (exc := _exception_from_text(rest.split(" - ", 1)[1])):
                self._summary_exc, self._summary_is_error = exc, status == "ERROR"
                self._summary_frames, self._after_summary = [], True
        elif status == "RERUN" and len(self._reruns) < 10 * MAX_TESTS:
            self._reruns.add(node_id)
        elif (
            status == "PASSED"
            and node_id not in self._interrupted_ids
            and (node_id in self._reruns or node_id in self._failed)
        ):
            self._failed.pop(node_id, None)
            if len(self._flaky) < MAX_TESTS:
                self._flaky[node_id] = None

    def _add_failed(self, node_id: str) -> None:
        self._flaky.pop(node_id, None)
        if node_id not in self._failed:
            self._failed_total += 1
            if len(self._failed) < MAX_TESTS:
                self._failed[node_id] = None

    def _close_block(self) -> None:
        block, self._block = self._block, None
        if block is None:
            return
        block.close()
        is_error = block.kind == "error" or block.title.startswith("ERROR ")
        if (self._first is None or (self._first_is_error and not is_error)) and (
            block.chain.exceptions or block.e_lines
        ):
            self._first, self._first_lines, self._first_is_error = block.chain, block.e_lines, is_error
        name = block.test_name()
        if name is None or block.kind == "rerun":
            return
        self._collection_error |= name[1]
        if len(self._unresolved) < MAX_TESTS:
            self._unresolved.append((name[0], None if name[1] else block.first_file))

    def _failing_tests(self) -> list[str]:
        ids = list(self._failed)
        for name, file in self._unresolved:
            if any(i == name or i.endswith("::" + name) for i in ids):
                continue
            node_id = f"{file}::{name}" if file else name
            if node_id not in self._flaky and len(ids) < MAX_TESTS:
                ids.append(node_id)
        # the same test printed relative to two roots ("dynamo/t.py::x", "test/dynamo/t.py::x")
        return [i for i in ids if not any(j != i and j.endswith("/" + i) for j in ids)]

    def result(self) -> Finding | None:
        self._close_block()
        done = self._loose.close()
        self._loose_first = self._loose_first or done
        if self._first is None:
            self._first = self._loose_first
        failing = self._failing_tests()
        if not failing and not self._flaky and not (self._seen and self._first):
            return None
        finding = Finding(parser=self.name, failing_tests=failing, flaky_tests=list(self._flaky))
        chain = self._first
        exc = chain.last if chain else None
        if exc is None or (exc[0] is None and self._summary_exc):
            exc = self._summary_exc
        if exc is not None:
            finding.exception_type, finding.message = exc
        if chain is not None and chain.frames:
            finding.frames = list(chain.frames)
        elif self._summary_frames:
            finding.frames = list(self._summary_frames)
        if chain is not None:
            finding.error_lines = chain.error_lines() or self._first_lines[:MAX_ERROR_LINES]
        if not finding.error_lines and exc is not None:
            finding.error_lines = [cap(f"{exc[0]}: {exc[1]}" if exc[1] else exc[0])]
        if not finding.message and self._first_lines:
            finding.message = self._first_lines[0]
        if self._collection_error:
            finding.failure_class = FailureClass.IMPORT_ERROR
        elif self._interrupted:
            finding.failure_class = FailureClass.INFRASTRUCTURE
        elif failing:
            finding.failure_class = FailureClass.TEST_FAILURE
        return finding


# --- unittest and doctest ---------------------------------------------------------------------

_UNITTEST_HEADER = re.compile(
    r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>\S+) \((?P<where>[^)]+)\)(?: \(.*\))?\s*$"
)
_UNITTEST_RULE = re.compile(r"^(?:={20,}|-{20,})$")
_DOCTEST_FILE = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>\S+)$')


class _FirstChain:
    """Shared core of the unittest and doctest parsers: failing ids plus the first traceback."""

    name = ""

    def __init__(self) -> None:
        self._failed: dict[str, None] = {}
        self._reader = TracebackReader()
        self._first: Chain | None = None
        self._first_frame: Frame | None = None
        self._import_error = False

    def _add(self, test_id: str) -> None:
        if len(self._failed) < MAX_TESTS:
            self._failed[test_id] = None

    def _take(self, chain: Chain | None) -> None:
        if chain is not None and self._first is None:
            self._first = chain

    def result(self) -> Finding | None:
        self._take(self._reader.close())
        if not self._failed:
            return None
        finding = Finding(parser=self.name, failing_tests=list(self._failed))
        if self._first is not None:
            found = finding_from_chain(self.name, self._first)
            finding.exception_type, finding.message = found.exception_type, found.message
            finding.frames, finding.error_lines = found.frames, found.error_lines
        elif self._first_frame is not None:
            finding.frames = [self._first_frame]
        finding.failure_class = FailureClass.IMPORT_ERROR if self._import_error else FailureClass.TEST_FAILURE
        return finding


class UnittestParser(_FirstChain):
    """`python -m unittest` output: `FAIL: test_x (module.Class.test_x)` blocks; ids `module.Class.test_x`."""

    name = "unittest"

    def __init__(self) -> None:
        super().__init__()
        self._in_block = False

    def feed(self, line: str) -> None:
        line = clean(line)
        if m := _UNITTEST_HEADER.match(line):
            self._take(self._reader.close())
            name, where = m["name"], m["where"]
            if where.startswith("unittest.loader._FailedTest"):
                self._import_error = True
                self._add(name)
            else:
                self._add(where if where.endswith("." + name) else f"{where}.{name}")
            self._in_block = True
        elif self._in_block:
            if line.startswith("Ran ") and " test" in line:
                self._in_block = False
            self._take(self._reader.feed(line))


class DoctestParser(_FirstChain):
    """`python -m doctest` / `--doctest` output: `File "x.py", line N, in mod.func` + `Failed example:`."""

    name = "doctest"

    def __init__(self) -> None:
        super().__init__()
        self._pending: tuple[str, str, str] | None = None
        self._in_block = False

    def feed(self, line: str) -> None:
        line = clean(line)
        if m := _DOCTEST_FILE.match(line):
            self._pending = (m["file"], m["line"], m["name"])
            return
        if self._pending and line.strip() in ("Failed example:", "Exception raised:"):
            file, lineno, name = self._pending
            self._add(name)
            if self._first_frame is None:
                self._first_frame = make_frame(file, lineno, name)
            self._pending, self._in_block = None, True
            return
        self._pending = None
        if line.startswith("*" * 20):
            self._take(self._reader.close())
            self._in_block = False
        elif self._in_block:
            self._take(self._reader.feed(line))
