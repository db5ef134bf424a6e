"""Bounded capture of a command's output: a head spooled to disk and a tail kept in memory.

Standard library only. A test run may print gigabytes; the runner keeps at most `max_bytes` of it
(the first part on disk, for the parsers, and the last `tail_bytes` in a ring in memory) and counts
the rest, so its own memory stays flat whatever the command prints.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

TAIL_BYTES = 1 << 20  # kept in memory for the parsers: pytest's summary sits at the end
EXCERPT_BYTES = 32 << 10  # the log_head and log_tail in result.json, each
LINE_BYTES = 64 << 10  # the longest line the parsers get; longer ones arrive in pieces
TRUNCATION_MARK = "[... {n} bytes of output not kept ...]"


class OutputCapture:
    def __init__(self, spool: Path, max_bytes: int, tail_bytes: int = TAIL_BYTES) -> None:
        self.tail_bytes = min(tail_bytes, max_bytes // 2)
        self.head_limit = max_bytes - self.tail_bytes
        self.spool_path = spool
        self._spool = spool.open("wb")
        self.head_size = 0
        self.total = 0
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.head_limit + self.tail_bytes

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - self.head_size
        if room > 0:
            self._spool.write(chunk[:room])
            self.head_size += min(room, len(chunk))
            chunk = chunk[room:]
        if chunk:
            self._tail.append(chunk)
            self._tail_size += len(chunk)
            while self._tail and self._tail_size - len(self._tail[0]) >= self.tail_bytes:
                self._tail_size -= len(self._tail.popleft())

    def close(self) -> None:
        self._spool.close()

    def tail(self) -> bytes:
        data = b"".join(self._tail)
        return data[-self.tail_bytes :] if self.tail_bytes else b""

    def lines(self, head_bytes: int | None = None) -> Iterator[bytes]:
        """What was kept, as lines (at most `head_bytes` of the head); a mark where output was dropped."""
        read = 0
        with self.spool_path.open("rb") as f:
            for line in iter(lambda: f.readline(LINE_BYTES), b""):  # a 60 MB line arrives in pieces
                if head_bytes is not None and read + len(line) > head_bytes:
                    break
                read += len(line)
                yield line
        tail = self.last(min(self.tail_bytes, self.total - read))
        dropped = self.total - read - len(tail)
        if dropped > 0:
            yield b"\n" + TRUNCATION_MARK.format(n=dropped).encode() + b"\n"
        yield from tail.splitlines(keepends=True)

    def last(self, size: int) -> bytes:
        """The last `size` bytes kept (from the tail ring, then the spooled head)."""
        if size <= 0:
            return b""
        tail = self.tail()
        if len(tail) < size and self.head_size:
            start = max(self.head_size - (size - len(tail)), 0)
            with self.spool_path.open("rb") as f:
                f.seek(start)
                tail = f.read(self.head_size - start) + tail
        return tail[-size:]

    def excerpts(self, size: int = EXCERPT_BYTES) -> tuple[str, str]:
        """(head, tail) of the output as text, each at most `size` bytes, not overlapping."""
        with self.spool_path.open("rb") as f:
            head = f.read(size)
        rest = self.total - len(head)
        if rest <= 0:
            return _text(head), ""
        return _text(head), _text(self.last(min(size, rest)))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
