"""The data of failure evidence, shared by the parsers, the report and the fingerprint. Standard library only.

Logs can be large (a full CI job log runs to hundreds of megabytes), so parsing streams: a parser
is a small state machine fed one cleaned line at a time (`feed`), keeping only a bounded amount
of what it saw, and asked for its `Finding` at the end. Every parser sees every line, in one pass.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

MAX_TESTS = 200  # failing test ids kept per finding
MAX_FRAMES = 60  # frames kept per traceback (the innermost ones when cut)
MAX_MESSAGE_CHARS = 2000
MAX_ERROR_LINES = 80


@dataclass(frozen=True)
class Frame:
    """One traceback frame. `project` is True for the repository's own code (not site-packages,
    the standard library, or a toolchain), as far as the path tells."""

    file: str
    line: int | None
    function: str | None
    project: bool


@dataclass(frozen=True)
class Location:
    """A `path:line[:col]: message` finding of a linter, type checker or compiler."""

    file: str
    line: int | None
    column: int | None
    message: str
    code: str | None = None  # e.g. E501, TS2322, no-unused-vars


class FailureClass(enum.Enum):
    TEST_FAILURE = "test_failure"
    IMPORT_ERROR = "import_error"  # error at import or collection
    SYNTAX_ERROR = "syntax_error"
    LINT_ERROR = "lint_error"  # lint or type-check findings
    BUILD_ERROR = "build_error"  # compile or build failure
    DEPENDENCY_ERROR = "dependency_error"  # installing dependencies failed
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    INFRASTRUCTURE = "infrastructure"  # runner lost, network, cancelled
    UNKNOWN = "unknown"

    @property
    def fixable(self) -> bool:
        """Whether a patch to the repository can plausibly fix this class of failure."""
        return self in _FIXABLE


_FIXABLE = frozenset(
    {
        FailureClass.TEST_FAILURE,
        FailureClass.IMPORT_ERROR,
        FailureClass.SYNTAX_ERROR,
        FailureClass.LINT_ERROR,
        FailureClass.BUILD_ERROR,
    }
)


@dataclass
class Finding:
    """What one parser extracted from a log. Lists are capped (see MAX_*); frames run outermost
    first, so `frames[-1]` is where the exception was raised."""

    parser: str  # "pytest", "unittest", "doctest", "traceback", "tool", "java", "js", "go", "generic"
    failing_tests: list[str] = field(default_factory=list)
    flaky_tests: list[str] = field(default_factory=list)  # failed, then passed on a rerun
    exception_type: str | None = None
    message: str | None = None
    frames: list[Frame] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)  # the lines a person would read first
    failure_class: FailureClass | None = None  # when the parser can tell (e.g. "collection error")

    @property
    def innermost_project_frame(self) -> Frame | None:
        return next((f for f in reversed(self.frames) if f.project), None)

    def is_empty(self) -> bool:
        return not (self.failing_tests or self.exception_type or self.locations or self.error_lines)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failure_class"] = self.failure_class.value if self.failure_class else None
        return data


class LineParser(Protocol):
    """A streaming parser: `feed` every cleaned line in order, then read `result`.

    A cleaned line is what `logclean.LogCleaner` yields, and parsers rely on it rather than clean
    again: no line ending, no ANSI escape sequences, no leading Actions timestamp (nor the
    `gh run view` job and step columns), `\r` progress overwrites resolved to the last part,
    `##[error]`-style markers reduced to their text, at most `logclean.MAX_LINE_CHARS` long. A
    caller with raw text runs it through `logclean.clean_lines` first.
    """

    name: str

    def feed(self, line: str) -> None: ...

    def result(self) -> Finding | None: ...


class GatedLineParser(LineParser, Protocol):
    """A LineParser that says when it may skip a line: while `idle` (not collecting a block), a line
    its `trigger` does not `search` to a match leaves its state as it was, so the caller need not
    feed it. Most lines of a log concern one parser at most; skipping them is most of the speed."""

    trigger: ClassVar[re.Pattern[str]]
    idle: bool


def is_project_path(path: str) -> bool:
    """A frame's file is the project's own unless it is plainly a dependency or the interpreter's."""
    p = path.replace("\\", "/")
    outside = (
        "site-packages/",
        "dist-packages/",
        "/lib/python",
        "<frozen ",
        "<string>",
        "/usr/lib/",
        "/.venv/",
    )
    return not any(marker in p for marker in outside) and not p.startswith("<")
