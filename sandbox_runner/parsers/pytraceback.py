"""Python tracebacks in a log: the shared line grammar (frames, exception lines, chains) and
`TracebackParser` for plain tracebacks anywhere, chained ones included. Standard library only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox_runner.failure import (
    MAX_ERROR_LINES,
    MAX_FRAMES,
    MAX_MESSAGE_CHARS,
    FailureClass,
    Finding,
    Frame,
    is_project_path,
)

_TRACEBACK = re.compile(r"^(?P<indent>\s*)Traceback \(most recent call last\):\s*$")
NATIVE_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_CHAIN = re.compile(
    r"^\s*(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*$"
)
_EXC_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_EXC_LINE = re.compile(rf"^(?P<type>{_EXC_NAME})(?::\s?(?P<msg>.*))?$")
_MAX_STRAY = 8  # unrelated lines tolerated inside a traceback (stdout and stderr interleave in CI)
_EXC_SUFFIX = re.compile(r"(?:Error|Exception|Warning|Interrupt|Exit|Failed|Failure|Expired|Timeout)$")


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
        m = _TRACEBACK.match(line) if "Traceback (" in line else None
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
            f = NATIVE_FRAME.match(body)
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
    if exc_type in ("SyntaxError", "IndentationError", "TabError"):
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
    trigger = re.compile(r"Traceback \(")
    idle = True

    def __init__(self) -> None:
        self._reader = TracebackReader()
        self._chain: Chain | None = None
        self._count = 0

    def feed(self, line: str) -> None:
        done = self._reader.feed(line)
        if done is not None:
            self._take(done)
        self.idle = self._reader.state == "idle"

    def _take(self, chain: Chain) -> None:
        self._count += 1
        self._chain = _primary(self._chain, chain)

    def result(self) -> Finding | None:
        done = self._reader.close()
        if done is not None:
            self._take(done)
        return finding_from_chain(self.name, self._chain) if self._chain else None
