"""Cleaning CI job logs into the plain lines parsers read. Standard library only, and streaming.

Handles raw GitHub Actions job logs (an ISO timestamp on every line, `##[group]`/`##[endgroup]`,
`##[error]`, ANSI colours, `\\r` progress overwrites), the `gh run view --log` format
(`job<TAB>step<TAB>timestamp line`) and plain console output. While cleaning, a `LogCleaner` tracks
the step each line belongs to (`##[group]Run …` starts one), the failing step (the last one that
ended with `##[error]Process completed with exit code N`, else the last one with any `##[error]`)
with its command line, and a short window of lines before that step's errors. Memory stays bounded
however long the log is: every kept collection has a cap, and an overlong line is cut.
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

MAX_LINE_CHARS = 4096  # a cleaned line is cut here
MAX_RAW_LINE_BYTES = 64 * 1024  # of a longer raw line, the rest is skipped unread into memory
CONTEXT_LINES = 100  # lines of a step kept before its error
MAX_COMMAND_LINES = 20
MAX_COMMAND_CHARS = 2000
MAX_ERRORS = 20  # `##[error]` messages kept

_TIMESTAMP = re.compile(r"\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_GH_RUN_VIEW = re.compile(r"([^\t]*)\t([^\t]*)\t\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_MARKER = re.compile(r"##\[(group|endgroup|error|warning|notice|debug|command)\]")
_EXIT_CODE = re.compile(r"Process completed with exit code (\d+)")


@dataclass
class StepState:
    """What is known of one step while its lines stream past."""

    name: str | None
    command_lines: list[str] = field(default_factory=list)
    in_header: bool = False  # inside the `##[group]Run …` block that echoes the script
    errors: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def command(self) -> str | None:
        if self.command_lines:
            return "\n".join(self.command_lines)[:MAX_COMMAND_CHARS]
        if self.name and self.name.startswith("Run "):
            return self.name[4:]
        return None


class LogCleaner:
    """Feed raw lines one at a time; `feed` returns the cleaned line, or None for a marker line.

    `step` is the current step's name; after the last line, `failing_step`, `failing_command`,
    `exit_code`, `errors` (the `##[error]` messages) and `context` (the lines before the failing
    step's first error, else the log's last lines) describe where the job failed.
    """

    def __init__(self) -> None:
        self.current = StepState(name=None)
        self.failing: StepState | None = None
        self._failing_exit = False  # whether `failing` ended with an exit code
        self._recent: deque[str] = deque(maxlen=CONTEXT_LINES)
        self.context: list[str] = []
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS)
        self.lines = 0

    @property
    def step(self) -> str | None:
        return self.current.name

    @property
    def failing_step(self) -> str | None:
        return self.failing.name if self.failing else None

    @property
    def failing_command(self) -> str | None:
        return self.failing.command if self.failing else None

    @property
    def exit_code(self) -> int | None:
        return self.failing.exit_code if self.failing else None

    def excerpt_lines(self) -> list[str]:
        """The failing step's lines up to its errors, with the errors; else the log's tail."""
        if self.failing is not None and self.context:
            return self.context + [f"##[error]{e}" for e in self.failing.errors]
        return list(self._recent)

    def feed(self, raw: str) -> str | None:
        self.lines += 1
        line = raw[: MAX_LINE_CHARS * 4].rstrip("\r\n")
        m = _GH_RUN_VIEW.match(line) if "\t" in line else None
        if m:
            step = m.group(2) or m.group(1)
            if step != self.current.name:
                self._new_step(step)
            line = line[m.end() :]
        elif line[:1].isdigit() or line[:1] == "\ufeff":
            m2 = _TIMESTAMP.match(line)
            if m2:
                line = line[m2.end() :]
        if "\r" in line:
            parts = [p for p in line.split("\r") if p]
            line = parts[-1] if parts else ""
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        line = line[:MAX_LINE_CHARS]
        if line.startswith("##["):
            return self._marker(line)
        if self.current.in_header:
            self._header_line(line)
        self._recent.append(line)
        return line

    def _marker(self, line: str) -> str | None:
        m = _MARKER.match(line)
        if m is None:
            self._recent.append(line)
            return line
        kind, text = m.group(1), line[m.end() :]
        if kind == "group":
            if text.startswith("Run "):
                self._new_step(text)
                self.current.in_header = True
            return None
        if kind == "endgroup":
            self.current.in_header = False
            return None
        if kind == "error":
            self._error(text)
        self._recent.append(text)
        return text

    def _header_line(self, line: str) -> None:
        stripped = line.strip()
        if (
            stripped.startswith("shell:")
            or stripped == "env:"
            or len(self.current.command_lines) >= MAX_COMMAND_LINES
        ):
            self.current.in_header = False
        elif stripped:
            self.current.command_lines.append(stripped)

    def _new_step(self, name: str) -> None:
        self.current = StepState(name=name)
        self._recent.clear()

    def _error(self, text: str) -> None:
        self.errors.append(text)
        step = self.current
        if len(step.errors) < MAX_ERRORS:
            step.errors.append(text)
        m = _EXIT_CODE.search(text)
        if m:
            step.exit_code = int(m.group(1))
        if step is not self.failing:
            if self._failing_exit and step.exit_code is None:
                return  # a stray error never displaces a step that failed with an exit code
            self.failing = step
            self.context = list(self._recent)
        self._failing_exit = step.exit_code is not None


def iter_raw_lines(source: str | bytes | BinaryIO | Iterable[str] | Iterable[bytes]) -> Iterator[str]:
    """The raw lines of a log: a whole text, bytes, a binary file (utf-8, bad bytes replaced) or lines."""
    if isinstance(source, str):
        yield from source.splitlines()
        return
    if isinstance(source, bytes):
        yield from source.decode("utf-8", "replace").splitlines()
        return
    if hasattr(source, "readline") and not isinstance(source, io.TextIOBase):
        yield from _binary_lines(source)  # type: ignore[arg-type]
        return
    for item in source:
        yield item.decode("utf-8", "replace") if isinstance(item, bytes) else item


def _binary_lines(f: BinaryIO) -> Iterator[str]:
    while True:
        chunk = f.readline(MAX_RAW_LINE_BYTES)
        if not chunk:
            return
        if not chunk.endswith(b"\n"):  # an overlong line: skip the rest of it
            rest = chunk
            while rest and not rest.endswith(b"\n"):
                rest = f.readline(MAX_RAW_LINE_BYTES)
        yield chunk.decode("utf-8", "replace")


def clean_lines(
    source: str | bytes | BinaryIO | Iterable[str] | Iterable[bytes], cleaner: LogCleaner | None = None
) -> Iterator[str]:
    """The cleaned lines of a log, markers left out; pass a `cleaner` to read its step state after."""
    c = cleaner if cleaner is not None else LogCleaner()
    for raw in iter_raw_lines(source):
        line = c.feed(raw)
        if line is not None:
            yield line


def strip_ansi(line: str) -> str:
    """`line` without terminal escape sequences (colours, cursor moves, titles)."""
    return _ANSI.sub("", line) if "\x1b" in line else line
