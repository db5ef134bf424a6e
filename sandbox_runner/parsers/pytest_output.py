"""pytest's console output in every `--tb` style (long, short, line, native, no): FAILURES/ERRORS/
RERUNS sections, `-ra` summaries, verbose and xdist status lines, reruns, subtests, collection and
setup errors, interruptions. Streaming, standard library only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox_runner.failure import MAX_ERROR_LINES, MAX_TESTS, FailureClass, Finding, Frame
from sandbox_runner.parsers.pytorch_run_test import RunTestWrapper
from sandbox_runner.parsers.pytraceback import (
    NATIVE_FRAME,
    Chain,
    TracebackReader,
    cap,
    make_frame,
    parse_exception_line,
    push_capped,
)

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
_MAX_ID_CHARS = 500
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
        if line[:3] == "---" and _CAPTURED.match(line):
            self.captured = True
            return
        if self.reader.state != "idle" or "Traceback (" in line:
            was_idle = self.reader.state == "idle"
            done = self.reader.feed(line)
            if done is not None:
                self._merge(done)
            if not was_idle or self.reader.state != "idle":
                return
        # cheap tests first: most lines of a failure are source, values and diff
        if 'File "' in line and (m := NATIVE_FRAME.match(line)):  # frames without a Traceback header
            push_capped(self.chain.frames, make_frame(m["file"], m["line"], m["func"]))
        elif (".py:" in line or line[:1] == "<") and (m := _LOCATION.match(line)):
            self._location(m["file"], m["line"], m["rest"] or "")
        elif line[:5] == "file " and (m := _SETUP_FILE.match(line)):
            push_capped(self.chain.frames, make_frame(m["file"], m["line"], None))
            self.first_file = self.first_file or m["file"]
        elif line[:1] == "E" and (m := _E_LINE.match(line)):
            text = m["text"].strip()
            if text and len(self.e_lines) < 20:
                self.e_lines.append(cap(text))
            if f := NATIVE_FRAME.match(text):  # a SyntaxError's `File "x.py", line 3`
                push_capped(self.chain.frames, make_frame(f["file"], f["line"], f["func"]))
            elif self.e_exc is None and text:
                self.e_exc = _exception_from_text(text)
        elif "def" in line and (m := _DEF.match(line)):
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
        if title.startswith("[doctest] "):  # --doctest-modules: `path::module.func`
            return title.removeprefix("[doctest] "), False
        if title.startswith("ERROR collecting "):
            return title.removeprefix("ERROR collecting "), True
        for prefix in ("ERROR at setup of ", "ERROR at teardown of "):
            title = title.removeprefix(prefix)
        if " " in title.split("[", 1)[0]:
            return None
        head, bracket, param = title.partition("[")
        return head.replace(".", "::") + bracket + param, False


def _order_key(chain: Chain) -> tuple[tuple[str, ...], int] | None:
    """Where a failure's test sits, for ordering: its outermost project frame's path parts and line
    (pytest's own frames come first in a native traceback)."""
    frame = next((f for f in chain.frames if f.project), None)
    if frame is None:
        return None
    return tuple(frame.file.replace("\\", "/").split("/")), frame.line or 0


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
        self._first_key: tuple[tuple[str, ...], int] | None = None
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
        self._wrapper = RunTestWrapper()  # pytorch's run_test.py, which runs pytest per test file

    def feed(self, line: str) -> None:
        if "failed" in line:
            self._wrapper.feed(line)
        if line[:1] == "=" and (m := _SECTION.match(line)):
            self._seen = True
            self._after_summary = False
            self._close_block()
            self._section = m["title"].strip()
            return
        if line[:1] == "_" and (m := _HEADER.match(line)):
            self._close_block()
            if self._section in _BLOCK_SECTIONS:
                kind = {"RERUNS": "rerun", "ERRORS": "error"}.get(self._section, "failure")
                self._block = _Block(title=m["title"].strip(), kind=kind)
            return
        if self._block is not None:
            self._block.feed(line)
            return
        # a test id holds "::" or ".py"; a summary's frames, `File "`: most lines hold neither
        if "::" in line or ".py" in line:
            self._status_line(line)
        elif self._after_summary and 'File "' in line and (f := NATIVE_FRAME.match(line)):
            push_capped(self._summary_frames, make_frame(f["file"], f["line"], f["func"]))
        if line[:1] == "!" and (m := _BANNER.match(line)):
            if "KeyboardInterrupt" in m["title"]:
                self._interrupted = True
                if self._running:
                    self._add_failed(self._running)
                    if len(self._interrupted_ids) < MAX_TESTS:
                        self._interrupted_ids.add(self._running)
        elif (
            (self._section in _BLOCK_SECTIONS or self._interrupted)
            and (".py:" in line or line[:1] == "<")
            and (m := _LOCATION.match(line))
        ):
            self._line_style(m["file"], m["line"], m["rest"] or "")
        elif self._loose.state != "idle" or "Traceback (" in line:
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
        # one location per failure, the innermost: not where the test sits, so printed order decides
        if (block.chain.exceptions or block.chain.frames) and self._comes_first(None, is_error):
            self._first, self._first_is_error = block.chain, is_error

    def _status_line(self, line: str) -> None:
        """A line holding "::" or ".py": a test's status (verbose, `-ra`, xdist), or a running test."""
        if line.startswith("SUBFAILED"):
            line = _SUBFAILED.sub("SUBFAIL", line)
        m = _SUMMARY.match(line) or _VERBOSE.match(line)
        if m is None:
            if (r := _RUNNING.match(line)) and "::" in r["id"]:
                self._running = r["id"][:_MAX_ID_CHARS]
            elif self._after_summary and (f := NATIVE_FRAME.match(line)):
                push_capped(self._summary_frames, make_frame(f["file"], f["line"], f["func"]))
            return
        node_id, status = m["id"][:_MAX_ID_CHARS], m["status"] or m["status2"]
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

    def _comes_first(self, key: tuple[tuple[str, ...], int] | None, is_error: bool) -> bool:
        """Whether a failure precedes the one kept: a test failure before an error (at setup, at
        collection), and among those the first in the suite's own order, by test file and line
        (its outermost frame), which is the printed order of a plain run and stays put when xdist
        or a random order shuffles the printing, so reruns report the same failure."""
        if self._first is None or (self._first_is_error and not is_error):
            self._first_key = key
            return True
        if (
            is_error != self._first_is_error
            or key is None
            or self._first_key is None
            or key >= self._first_key
        ):
            return False
        self._first_key = key
        return True

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
        if (block.chain.exceptions or block.e_lines) and self._comes_first(_order_key(block.chain), is_error):
            self._first, self._first_lines, self._first_is_error = block.chain, block.e_lines, is_error
        name = block.test_name()
        if name is None or block.kind == "rerun":
            return
        self._collection_error |= name[1]
        if len(self._unresolved) < MAX_TESTS:
            self._unresolved.append((name[0][:_MAX_ID_CHARS], None if name[1] else block.first_file))

    def _failing_tests(self) -> list[str]:
        ids = list(self._failed)
        for name, file in self._unresolved:
            if any(i == name or i.endswith("::" + name) for i in ids):
                continue
            node_id = f"{file}::{name}" if file else name
            if node_id not in self._flaky and len(ids) < MAX_TESTS:
                ids.append(node_id)
        ids, unrun = self._wrapper.merged(ids)
        self._collection_error |= unrun
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
        if finding.exception_type in ("SyntaxError", "IndentationError", "TabError"):
            finding.failure_class = FailureClass.SYNTAX_ERROR
        elif self._collection_error:
            finding.failure_class = FailureClass.IMPORT_ERROR
        elif self._interrupted:
            finding.failure_class = FailureClass.INFRASTRUCTURE
        elif failing:
            finding.failure_class = FailureClass.TEST_FAILURE
        return finding
