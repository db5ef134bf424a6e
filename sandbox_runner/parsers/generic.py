"""The fallback parser: whatever the log's language, keep the lines a person would read first (the
first error line and the last ones, once each), the last exception line, and the class of failure
when a telltale line says it (out of memory, timeout, runner lost or network, dependency install).
"""

from __future__ import annotations

import re
from collections import deque

from sandbox_runner.failure import MAX_ERROR_LINES, MAX_MESSAGE_CHARS, FailureClass, Finding

# Every branch starts with a literal, so the regex engine skips ahead to where one could begin; the
# word-boundary tests come after the literal as look-behinds (`error:(?<![\w-]error:)` is
# `(?<![\w-])error:`), and the two tests anchored at the line's start are a separate `match`.
_ERROR = re.compile(
    r"##\[error\]|Error:|error:(?<![\w-]error:)|ERROR:(?<![\w-]ERROR:)|\[ERROR\]|KeyboardInterrupt"
    r"|FAILED(?<!\wFAILED)\b|fatal:(?<!\wfatal:)"
    r"|OOMKilled|out of memory|OutOfMemoryError|timed out|Timeout(?<!\wTimeout)\b|exceeded the maximum"
    r"|shutdown signal|lost communication|Could not resolve host|Failed building wheel|ResolutionImpossible"
    r"|No matching distribution"
)
_ERROR_AT_START = re.compile(r"\s*(?:Traceback \(most recent call last\)|Killed\b)")
# A cheap test first: most lines of a log hold none of these substrings, one of which is in every
# line `_ERROR`, `_ERROR_AT_START` or `_EXCEPTION` matches. Substring tests are much faster than a
# regex search, which costs tens of instructions a character.
_MAYBE = (
    *("rror", "ERROR", "Interrupt", "FAIL", "Fail", "fatal:", "Trace", "Kill", "out of memory", "timed out"),
    *("Timeout", "exceeded the maximum", "shutdown signal", "lost communication", "Could not resolve"),
    *("Resolution", "No matching", "Exception", "Exit", "Expired"),
)
# a script's own text, not what it printed: shell traces, echo commands, a step's header
_NOT_OUTPUT = ("+ ", "echo ", "##[group]", "##[command]", "[command]")
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Expired)): ?(?P<msg>.*)")

# Telltale lines, strongest class first: a job that ran out of time is cancelled too, and an install
# can fail for a lost network.
_CLASSES: tuple[tuple[FailureClass, re.Pattern[str]], ...] = (
    (
        FailureClass.OUT_OF_MEMORY,
        re.compile(
            r"CUDA out of memory|OutOfMemoryError|OOMKilled|^\s*Killed\s*$|Killed signal terminated"
            r"|\bMemoryError\b|java\.lang\.OutOfMemoryError|JavaScript heap out of memory|exit code 137"
        ),
    ),
    (FailureClass.TIMEOUT, re.compile(r"exceeded the maximum execution time|panic: test timed out")),
    (
        FailureClass.INFRASTRUCTURE,
        re.compile(
            r"runner has received a shutdown signal|lost communication with the server|Could not resolve host"
            r"|Temporary failure in name resolution|No space left on device|The operation was canceled"
        ),
    ),
    (
        FailureClass.DEPENDENCY_ERROR,
        re.compile(
            r"subprocess-exited-with-error|Failed building wheel|Failed to build one or more wheels"
            r"|ResolutionImpossible|No matching distribution|Could not find a version that satisfies"
            r"|npm ERR! code E(?:RESOLVE|NOTFOUND)|Could not resolve dependencies"
        ),
    ),
    (FailureClass.TIMEOUT, re.compile(r"timed out|\bTimeout\b|TimeoutError|TimeoutExpired")),
)
# Whether a telltale may be in a line at all: one search, not one per class, for most error lines.
# Literals only (a superset of every pattern above: anchors and word boundaries left out), so fast.
_ANY_CLASS = re.compile(
    r"out of memory|OutOfMemoryError|OOMKilled|Killed|MemoryError|exit code 137|timed out|Timeout"
    r"|exceeded the maximum execution time|runner has received a shutdown signal"
    r"|lost communication with the server|Could not resolve host|Temporary failure in name resolution"
    r"|No space left on device|The operation was canceled|subprocess-exited-with-error"
    r"|Failed building wheel|Failed to build one or more wheels|ResolutionImpossible|No matching distribution"
    r"|Could not find a version that satisfies|npm ERR! code E(?:RESOLVE|NOTFOUND)"
    r"|Could not resolve dependencies"
)


def _cap(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


class GenericParser:
    """Error lines of any log, the last exception line, and a class from telltale lines."""

    name = "generic"

    def __init__(self) -> None:
        self._first: str | None = None
        self._last: deque[str] = deque(maxlen=MAX_ERROR_LINES - 1)
        self._class_rank: int | None = None
        self.exception_type: str | None = None
        self.message: str | None = None

    def feed(self, line: str) -> None:
        for needle in _MAYBE:
            if needle in line:
                break
        else:
            return
        if line.lstrip().startswith(_NOT_OUTPUT):
            return
        if m := _EXCEPTION.match(line):
            self.exception_type, self.message = m["type"], _cap(m["msg"]) if m["msg"] else None
        elif not (_ERROR.search(line) or _ERROR_AT_START.match(line)):
            return
        self._classify(line)
        kept = _cap(line)
        if self._first is None:
            self._first = kept
        elif kept != self._first:
            if kept in self._last:  # once each, where it last occurred
                self._last.remove(kept)
            self._last.append(kept)

    def _classify(self, line: str) -> None:
        limit = len(_CLASSES) if self._class_rank is None else self._class_rank
        if limit == 0 or not _ANY_CLASS.search(line):
            return
        for rank in range(limit):
            if _CLASSES[rank][1].search(line):
                self._class_rank = rank
                return

    @property
    def failure_class(self) -> FailureClass | None:
        return None if self._class_rank is None else _CLASSES[self._class_rank][0]

    def result(self) -> Finding | None:
        if self._first is None:
            return None
        return Finding(
            parser=self.name,
            exception_type=self.exception_type,
            message=self.message,
            error_lines=[self._first, *self._last],
            failure_class=self.failure_class,
        )
