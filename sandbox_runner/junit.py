"""JUnit XML → per-test outcomes, for pytest's `--junitxml` and other producers. Standard library only.

The file comes from the repository's own test run, so it is untrusted: it is read with expat in a
stream (memory stays flat on a file of any size: only the first line of each message is kept, never
`system-out`), and a document type declaration — the way to entity-expansion bombs and external
entities, which no JUnit producer needs — is refused.

pytest's test ids are rebuilt as node ids (`classname="tests.test_x.TestA" name="test_b[1]"` →
`tests/test_x.py::TestA::test_b[1]`): from the `file` attribute when present (xunit1), else by finding
the module file in `repo_dir`, else by taking the trailing capitalised parts as classes. Other
producers (unittest-xml-reporting, Maven surefire, jest-junit) keep `classname.name`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.parsers import expat

from sandbox_runner.redact import redact
from sandbox_runner.result import Outcome, TestOutcome

MAX_TESTS = 100_000  # past this many test cases, the rest are counted but not kept
_MAX_MESSAGE = 300
_CHUNK = 1 << 16
# a test reported twice (pytest: a teardown error after the call) keeps its worst outcome
_RANK = {
    Outcome.PASSED: 0,
    Outcome.XPASSED: 1,
    Outcome.SKIPPED: 2,
    Outcome.XFAILED: 3,
    Outcome.FAILED: 4,
    Outcome.ERROR: 5,
}


class JUnitError(ValueError):
    """The file is not JUnit XML we can read (malformed, or with a DTD)."""


@dataclass
class JUnitResult:
    tests: list[TestOutcome] = field(default_factory=list)
    collected: int | None = None  # distinct test cases reported (pytest: a collection error is one)
    truncated: bool = False  # more than MAX_TESTS test cases: the rest were not kept


@dataclass
class _Case:
    attrs: dict[str, str]
    outcome: Outcome = Outcome.PASSED
    message: str | None = None
    text: list[str] = field(default_factory=list)  # of the current failure/error/skipped, bounded
    text_len: int = 0


def _first_line(text: str) -> str | None:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return redact(line[:_MAX_MESSAGE]) if line else None


def _duration(value: str | None) -> float | None:
    try:
        return float(value.replace(",", "")) if value else None  # surefire may write "1,234.5"
    except ValueError:
        return None


def _pytest_id(classname: str, name: str, file: str | None, repo_dir: str | None) -> str:
    if not classname:  # a collection error: pytest names the module in `name`
        return _split_module(name.split("."), file, repo_dir)[0]
    module, classes = _split_module(classname.split("."), file, repo_dir)
    return "::".join([module, *classes, name])


def _split_module(parts: list[str], file: str | None, repo_dir: str | None) -> tuple[str, list[str]]:
    """`tests.test_x.TestA` → (`tests/test_x.py`, [`TestA`])."""
    if file and file.endswith(".py"):
        dotted = file[:-3].replace("/", ".").split(".")
        if parts[: len(dotted)] == dotted:
            return file, parts[len(dotted) :]
    if repo_dir is not None:
        for k in range(len(parts), 0, -1):
            candidate = "/".join(parts[:k]) + ".py"
            if os.path.isfile(os.path.join(repo_dir, candidate)):
                return candidate, parts[k:]
    k = len(parts)
    while k > 1 and parts[k - 1][:1].isupper():
        k -= 1
    return "/".join(parts[:k]) + ".py", parts[k:]


class _Reader:
    def __init__(self, repo_dir: str | None) -> None:
        self.repo_dir = repo_dir
        self.result = JUnitResult()
        self.index: dict[str, int] = {}
        self.pytest = False
        self.beyond = 0  # distinct test cases past MAX_TESTS
        self.case: _Case | None = None
        self.in_outcome = False
        self.scan = False  # looking for pytest's last `E   ` line: the exception of a collection error
        self.carry = ""
        self.last_e: str | None = None
        p = self.parser = expat.ParserCreate()
        p.StartDoctypeDeclHandler = self.refuse_dtd
        p.EntityDeclHandler = self.refuse_dtd
        p.StartElementHandler = self.start
        p.EndElementHandler = self.end
        p.CharacterDataHandler = self.data
        p.buffer_text = True  # text in large pieces, not one call per line

    def refuse_dtd(self, *_: object) -> None:
        raise JUnitError("JUnit XML with a document type declaration is refused")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = attrs.get("name", "")
        if tag in ("testsuites", "testsuite") and (name == "pytest" or name.startswith("pytest ")):
            self.pytest = True
        if tag == "testcase":
            self.case = _Case(attrs)
        elif self.case is not None and tag in ("failure", "error", "skipped"):
            self.outcome(tag, attrs)

    def outcome(self, tag: str, attrs: dict[str, str]) -> None:
        assert self.case is not None
        if tag == "skipped":
            xfail = attrs.get("type") == "pytest.xfail"
            new = Outcome.XFAILED if xfail else Outcome.SKIPPED
        else:
            new = Outcome.ERROR if tag == "error" else Outcome.FAILED
        if _RANK[new] >= _RANK[self.case.outcome]:
            self.case.outcome, self.case.text, self.case.text_len = new, [], 0
            self.case.message = _first_line(attrs.get("message") or "")
            self.in_outcome = self.case.message is None
            self.scan = self.pytest and attrs.get("message") == "collection failure"
            self.carry, self.last_e = "", None

    def data(self, text: str) -> None:
        if self.scan:
            *lines, rest = (self.carry + text).split("\n")
            self.last_e = next((ln for ln in reversed(lines) if ln.startswith("E   ")), self.last_e)
            self.carry = rest[-_MAX_MESSAGE:]
        if self.in_outcome and self.case is not None and self.case.text_len < 4 * _MAX_MESSAGE:
            self.case.text.append(text)
            self.case.text_len += len(text)

    def end(self, tag: str) -> None:
        if self.scan and tag == "error" and self.case is not None:
            last = self.carry if self.carry.startswith("E   ") else self.last_e
            self.case.message = _first_line(last[1:]) if last else self.case.message
            self.scan = False
        if tag in ("failure", "error", "skipped") and self.case is not None and self.in_outcome:
            self.case.message = _first_line("".join(self.case.text))
            self.in_outcome = False
        elif tag == "testcase" and self.case is not None:
            self.add(self.case)
            self.case = None

    def add(self, case: _Case) -> None:
        classname, name = case.attrs.get("classname", ""), case.attrs.get("name", "")
        if self.pytest:
            test_id = _pytest_id(classname, name, case.attrs.get("file"), self.repo_dir)
        else:
            test_id = f"{classname}.{name}" if classname and name else classname or name
        outcome = TestOutcome(test_id, case.outcome, _duration(case.attrs.get("time")), case.message)
        known = self.index.get(test_id)
        if known is not None:  # pytest reports a teardown error as a second entry for the same test
            if _RANK[case.outcome] > _RANK[self.result.tests[known].outcome]:
                self.result.tests[known] = outcome
        elif len(self.result.tests) < MAX_TESTS:
            self.index[test_id] = len(self.result.tests)
            self.result.tests.append(outcome)
        else:
            self.result.truncated = True
            self.beyond += 1  # not de-duplicated: that would need the ids kept after all

    def feed(self, chunk: bytes, final: bool = False) -> None:
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError as e:
            raise JUnitError(f"not well-formed JUnit XML: {e}") from None


def parse_junit(source: str | os.PathLike[str] | BinaryIO, *, repo_dir: str | None = None) -> JUnitResult:
    """Outcomes from a JUnit XML file (a path, or a binary stream). Raises JUnitError when the text is
    not JUnit XML we read (malformed, or with a DTD), OSError when the file cannot be opened."""
    reader = _Reader(repo_dir)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            _pump(reader, stream)
    else:
        _pump(reader, source)
    reader.result.collected = len(reader.result.tests) + reader.beyond
    return reader.result


def _pump(reader: _Reader, stream: BinaryIO) -> None:
    while chunk := stream.read(_CHUNK):
        reader.feed(chunk)
    reader.feed(b"", final=True)
