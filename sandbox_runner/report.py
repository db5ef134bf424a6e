"""A FailureReport from a CI log: one streaming pass through every parser, then the best finding.

Standard library only. `build_report` cleans the log (logclean), feeds each cleaned line to every
available parser, picks the most specific non-empty Finding (test runners, then tools, then
language tracebacks, then the generic fallback), classifies it, derives a reproduction command,
fingerprints it and redacts everything that leaves as text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, BinaryIO, cast

from sandbox_runner.failure import FailureClass, Finding, Frame, GatedLineParser, LineParser, Location
from sandbox_runner.fingerprint import fingerprint
from sandbox_runner.logclean import LogCleaner, clean_lines
from sandbox_runner.parsers.generic import GenericParser
from sandbox_runner.parsers.other import GoParser, JavaParser, JsParser
from sandbox_runner.parsers.python import DoctestParser, PytestParser, TracebackParser, UnittestParser
from sandbox_runner.parsers.tools import ToolParser
from sandbox_runner.redact import redact

SCHEMA_VERSION = 1
MAX_EXCERPT_LINES = 120
MAX_EXCERPT_CHARS = 12_000
MAX_REPRO_IDS = 20

# in order of precedence: test runners > tools > languages > plain tracebacks > generic
PARSERS: tuple[Callable[[], LineParser], ...] = (
    PytestParser,
    UnittestParser,
    DoctestParser,
    ToolParser,
    JavaParser,
    JsParser,
    GoParser,
    TracebackParser,
    GenericParser,
)

_IMPORT = {"ImportError", "ModuleNotFoundError"}
_SYNTAX = {"SyntaxError", "IndentationError", "TabError"}
_OOM = {"MemoryError", "OutOfMemoryError"}
_TIMEOUT = {"TimeoutError", "TimeoutExpired", "Timeout"}
_INFRA_TYPES = {"KeyboardInterrupt", "ConnectionError", "ReadTimeout", "ConnectTimeout", "MaxRetryError"}
# a network failure, whatever the exception that carried it
_NETWORK_MESSAGE = re.compile(
    r"couldn't connect to|could not connect to|connection (?:refused|reset|timed out)"
    r"|name or service not known|temporary failure in name resolution"
    r"|network is unreachable|no route to host",
    re.I,
)
_INFRA_ERRORS = re.compile(
    r"runner has received a shutdown signal|lost communication with the server|operation was canceled"
    r"|runner .* did not respond",
    re.I,
)
_TIMEOUT_ERRORS = re.compile(r"exceeded the maximum execution time|timed out after \d+ minutes", re.I)


@dataclass
class FailureReport:
    """What failed, where, why, and how to run it again (DESIGN.md). All text is redacted."""

    source: dict[str, Any]  # {"kind": "log" | "check_run" | "issue", ...}
    failure_class: str
    fixable: bool
    failing_tests: list[str] = field(default_factory=list)
    flaky_tests: list[str] = field(default_factory=list)
    exception_type: str | None = None
    message: str | None = None
    frames: list[Frame] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    excerpt: str = ""
    reproduction_command: str | None = None
    fingerprint: str = ""
    parser: str | None = None
    failing_step: str | None = None
    exit_code: int | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def innermost_project_frame(self) -> Frame | None:
        """The innermost frame in the project, else the innermost frame at all."""
        project = next((f for f in reversed(self.frames) if f.project), None)
        return project or (self.frames[-1] if self.frames else None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailureReport:
        fields = dict(data)
        fields["frames"] = [Frame(**f) for f in data.get("frames", [])]
        fields["locations"] = [Location(**loc) for loc in data.get("locations", [])]
        return cls(**fields)


def build_report(
    lines: str | bytes | BinaryIO | Iterable[str] | Iterable[bytes],
    *,
    source: dict[str, Any] | str = "log",
    repo_command: str | None = None,
) -> FailureReport:
    """The FailureReport of a log, read in one pass."""
    cleaner = LogCleaner()
    parsers = [make() for make in PARSERS]
    feeds, gated = _split_gated(parsers)
    for line in clean_lines(lines, cleaner):
        for feed in feeds:
            feed(line)
        for parser, feed, wants in gated:  # GatedLineParser: an idle one only needs what it looks for
            if not parser.idle or wants(line):
                feed(line)
    findings = [f for f in (p.result() for p in parsers) if f is not None and not f.is_empty()]
    finding = choose_finding(findings)
    cls = classify(finding, list(cleaner.errors))
    if cls is FailureClass.UNKNOWN:  # another parser may have recognised it (a timeout, an OOM kill)
        cls = next((f.failure_class for f in findings if f.failure_class is not None), cls)
    repro = reproduction_command(finding, repo_command, cleaner.failing_command)
    return FailureReport(
        source={"kind": source} if isinstance(source, str) else dict(source),
        failure_class=cls.value,
        fixable=cls.fixable,
        failing_tests=list(finding.failing_tests),
        flaky_tests=list(finding.flaky_tests),
        exception_type=finding.exception_type,
        message=redact(finding.message) if finding.message else None,
        frames=list(finding.frames),
        locations=[replace(loc, message=redact(loc.message)) for loc in finding.locations],
        excerpt=redact(render_excerpt(finding.error_lines, cleaner.excerpt_lines())),
        reproduction_command=redact(repro) if repro else None,
        fingerprint=make_fingerprint(finding, cls),
        parser=finding.parser if findings else None,
        failing_step=redact(cleaner.failing_step) if cleaner.failing_step else None,
        exit_code=cleaner.exit_code,
    )


_Feed = Callable[[str], None]
_Gated = tuple[GatedLineParser, _Feed, Callable[[str], object]]


def _split_gated(parsers: list[LineParser]) -> tuple[list[_Feed], list[_Gated]]:
    """The feeds of parsers that read every line, and the gated parsers with their feed and trigger."""
    feeds: list[_Feed] = []
    gated: list[_Gated] = []
    for parser in parsers:
        if isinstance(getattr(parser, "trigger", None), re.Pattern):
            g = cast(GatedLineParser, parser)
            wants: Callable[[str], object] = g.trigger.search
            gated.append((g, g.feed, wants))
        else:
            feeds.append(parser.feed)
    return feeds, gated


def choose_finding(findings: list[Finding]) -> Finding:
    """The most specific finding that names failing tests (else the most specific one), its gaps filled
    from the others; flaky ids merged."""
    if not findings:
        return Finding(parser="none")
    # the most specific finding that names failing tests leads: a runner's traceback alone (pytest
    # reading `python -m unittest` output) must not hide the parser that knows the test ids
    first = next((f for f in findings if f.failing_tests), findings[0])
    findings = [first, *(f for f in findings if f is not first)]
    best = replace(findings[0])
    for other in findings[1:]:
        if best.exception_type is None and other.exception_type is not None:
            best.exception_type, best.message = other.exception_type, other.message
            if not best.frames:
                best.frames = list(other.frames)
        if not best.error_lines:
            best.error_lines = list(other.error_lines)
        for test in other.flaky_tests:
            if test not in best.flaky_tests and test not in best.failing_tests:
                best.flaky_tests.append(test)
    best.failing_tests = [t for t in best.failing_tests if t not in set(best.flaky_tests)]
    return best


def classify(finding: Finding, gha_errors: Iterable[str] = ()) -> FailureClass:
    """The parser's class when it tells, else read from the exception type, the runner's errors, tests."""
    if finding.failure_class is not None:
        return finding.failure_class
    short = (finding.exception_type or "").rsplit(".", 1)[-1]
    message = finding.message or ""
    if short in _IMPORT:
        return FailureClass.IMPORT_ERROR
    if short in _SYNTAX:
        return FailureClass.SYNTAX_ERROR
    if short in _OOM or "out of memory" in message.lower():
        return FailureClass.OUT_OF_MEMORY
    if short in _TIMEOUT:
        return FailureClass.TIMEOUT
    errors = list(gha_errors)
    if (
        short in _INFRA_TYPES
        or _NETWORK_MESSAGE.search(message)
        or any(_INFRA_ERRORS.search(e) for e in errors)
    ):
        return FailureClass.INFRASTRUCTURE
    if any(_TIMEOUT_ERRORS.search(e) for e in errors):
        return FailureClass.TIMEOUT
    if finding.failing_tests:
        return FailureClass.TEST_FAILURE
    if finding.locations:
        return FailureClass.LINT_ERROR if finding.parser == "tool" else FailureClass.BUILD_ERROR
    return FailureClass.UNKNOWN


def reproduction_command(finding: Finding, repo_command: str | None, step_command: str | None) -> str | None:
    """The repo config's command; else one built from the failing ids; else the failing step's command."""
    if repo_command:
        return repo_command
    ids = [t for t in finding.failing_tests if " " not in t][:MAX_REPRO_IDS]
    if ids and (finding.parser == "pytest" or any("::" in t for t in ids)):
        return "python -m pytest " + " ".join(shlex.quote(t) for t in ids)
    if ids and finding.parser == "unittest":
        return "python -m unittest " + " ".join(shlex.quote(t) for t in ids)
    return step_command


def render_excerpt(error_lines: list[str], step_lines: list[str]) -> str:
    """The parser's error lines, then the failing step's lines before its error, capped."""
    lines = list(error_lines[:MAX_EXCERPT_LINES])
    tail = [ln for ln in step_lines if ln not in set(lines)]
    room = MAX_EXCERPT_LINES - len(lines)
    if lines and tail and room > 0:
        lines.append("…")
    if room > 0:
        lines.extend(tail[-room:] if len(tail) > room else tail)
    text = "\n".join(lines)
    return text if len(text) <= MAX_EXCERPT_CHARS else text[:MAX_EXCERPT_CHARS] + "\n… (cut)"


def make_fingerprint(finding: Finding, cls: FailureClass) -> str:
    """The fingerprint of `finding`, with the class the report settled on counted in."""
    return fingerprint(replace(finding, failure_class=cls))
