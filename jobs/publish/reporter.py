"""Progress shown on GitHub without slowing the job: status writes are coalesced and paced.

Every write to GitHub takes a slot in the installation's write pacing (a second apart), so a job that
updated its check run and sticky comment at every phase would push its own commit and PR back by
seconds. `StatusReporter` writes the first status at once, then at most one every `interval_s` (the
latest state wins; intermediate ones are dropped), in the background; `flush()` writes the final
state and waits for it. A failed status write is logged and does not fail the job. `stop()` ends a
job that did not get to `flush()` (cancelled, or an error): nothing of it is written afterwards, where
it could race the retry's own writes (two status comments where find-or-create expects one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger("autofix.jobs.status")
T = TypeVar("T")
INTERVAL_S = 15.0
STOP_WAIT_S = 5.0


class StatusReporter(Generic[T]):
    def __init__(
        self,
        write: Callable[[T], Awaitable[None]],
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.interval_s, self.clock = write, interval_s, clock
        self.latest: T | None = None
        self.version = self.written = 0
        self.last_write: float | None = None
        self.task: asyncio.Task[None] | None = None

    def update(self, value: T) -> None:
        """Show `value` soon: now if nothing was written for `interval_s`, else when that has passed."""
        self.latest, self.version = value, self.version + 1
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self.written < self.version:
            if self.last_write is not None:
                wait = self.last_write + self.interval_s - self.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            await self._write_latest()

    async def _write_latest(self) -> None:
        version, value = self.version, self.latest
        self.last_write = self.clock()
        self.written = version
        if value is None:
            return
        try:
            await self.write(value)
        except Exception:
            log.warning("status write failed", exc_info=True)

    async def stop(self) -> None:
        """Drop a pending write, and wait (a little) for one in flight to end."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait([self.task], timeout=STOP_WAIT_S)

    async def flush(self, value: T) -> None:
        """Write `value` now (the final state) and wait; any pending paced write is dropped."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.latest, self.version = value, self.version + 1
        await self._write_latest()


async def stopping(reporter: StatusReporter[Any], work: Awaitable[T]) -> T:
    """`work` (a job), then its reporter stopped however it ended: no status write of the job comes
    after it, where it could race the retry's own."""
    try:
        return await work
    finally:
        await reporter.stop()
