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
