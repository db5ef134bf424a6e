"""`python -m unittest` and `python -m doctest` output. Streaming, standard library only."""

from __future__ import annotations

import re

from sandbox_runner.failure import MAX_TESTS, FailureClass, Finding, Frame
from sandbox_runner.parsers.pytraceback import Chain, TracebackReader, finding_from_chain, make_frame

_UNITTEST_HEADER = re.compile(
    r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>\S+) \((?P<where>[^)]+)\)(?: \(.*\))?\s*$"
)
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
    trigger = re.compile(r"^(?:FAIL|ERROR|UNEXPECTED SUCCESS): ")
    idle = True

    def __init__(self) -> None:
        super().__init__()
        self._in_block = False

    def feed(self, line: str) -> None:
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
        self.idle = not self._in_block


class DoctestParser(_FirstChain):
    """`python -m doctest` / `--doctest` output: `File "x.py", line N, in mod.func` + `Failed example:`."""

    name = "doctest"
    trigger = re.compile(r'^File "')
    idle = True

    def __init__(self) -> None:
        super().__init__()
        self._pending: tuple[str, str, str] | None = None
        self._in_block = False

    def feed(self, line: str) -> None:
        self._feed(line)
        self.idle = self._pending is None and not self._in_block

    def _feed(self, line: str) -> None:
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
