"""The status reporter: first write at once, then paced and coalesced, the final state always written."""

from __future__ import annotations

import asyncio

from jobs.publish.reporter import StatusReporter


async def test_updates_are_coalesced_and_the_final_state_is_written() -> None:
    written: list[str] = []

    async def write(value: str) -> None:
        written.append(value)

    reporter: StatusReporter[str] = StatusReporter(write, interval_s=60)
    reporter.update("evidence")
    await asyncio.sleep(0.01)
    for phase in ("gate", "reproduce", "workspace"):  # within the interval: not written
        reporter.update(phase)
        await asyncio.sleep(0.01)
    await reporter.flush("done")
    assert written == ["evidence", "done"]


async def test_after_the_interval_the_latest_pending_state_is_written() -> None:
    written: list[str] = []

    async def write(value: str) -> None:
        written.append(value)

    reporter: StatusReporter[str] = StatusReporter(write, interval_s=0.05)
    reporter.update("a")
    reporter.update("b")
    reporter.update("c")
    await asyncio.sleep(0.2)
    assert written[0] in ("a", "c")
    assert written[-1] == "c"
    await reporter.flush("end")
    assert written[-1] == "end"


async def test_a_failing_write_does_not_fail_the_job() -> None:
    async def write(value: str) -> None:
        raise RuntimeError("GitHub is down")

    reporter: StatusReporter[str] = StatusReporter(write, interval_s=60)
    reporter.update("a")
    await asyncio.sleep(0.01)
    await reporter.flush("end")  # logs, does not raise


async def test_a_stopped_reporter_writes_nothing_afterwards() -> None:
    """A job cancelled mid-way (arq's timeout, a Redis outage) must not leave a paced write behind:
    it would race its retry's own status writes (found by bench/chaos.py: two status comments)."""
    written: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def write(value: str) -> None:
        started.set()
        await release.wait()  # GitHub is slow
        written.append(value)

    reporter: StatusReporter[str] = StatusReporter(write, interval_s=0.05)
    reporter.update("evidence")
    await started.wait()
    reporter.update("reproduce")  # due once the first write is through
    await reporter.stop()
    release.set()
    await asyncio.sleep(0.2)
    assert written == []
    assert reporter.task is not None
    assert reporter.task.done()
