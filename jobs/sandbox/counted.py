"""A sandbox that counts its runs in the stats (`sandbox:{backend}:{outcome}`, app/stats.py).

Each run of a batch counts once by how it ended: passed, failed, timeout, not_applied (the patch was
refused), error (no exit code); a batch that raised counts once under the error's code (unavailable,
workflow_missing, cancelled …). Counting never fails the batch: Redis errors are logged.
A run whose output shows it tried to reach the network, and was blocked, is logged and audited
(jobs/suspicion.py, checklist I5); its outcome stays what it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import stats
from jobs.sandbox.base import DEFAULT_LIMITS, Limits, Sandbox, SandboxError
from jobs.suspicion import record_egress
from sandbox_runner.result import RunResult

log = logging.getLogger("autofix.sandbox")


def run_outcome(run: RunResult) -> str:
    """How one run ended, as a bounded label. Pure."""
    if run.timed_out:
        return "timeout"
    if run.patch is not None and not run.patch.applied:
        return "not_applied"
    if run.exit_code is None:
        return "error"
    return "passed" if run.exit_code == 0 else "failed"


def build_run_counts(backend: str, outcomes: Sequence[str], now: float) -> stats.Counts:
    day = stats.day_of(now)
    counts = stats.Counts()
    for outcome in outcomes:
        counts.add(day, f"sandbox:{backend}:{outcome}")
    return counts


class CountedSandbox:
    def __init__(
        self, inner: Sandbox, redis: Redis, backend: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.inner, self.redis, self.backend, self.clock = inner, redis, backend, clock

    async def run(
        self,
        repo: str,
        sha: str,
        setup: str | None,
        command: str,
        candidates: Mapping[str, str],
        *,
        failing: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> list[RunResult]:
        try:
            results = await self.inner.run(
                repo, sha, setup, command, candidates, failing=failing, limits=limits
            )
        except SandboxError as e:
            await self._count([e.code])
            raise
        await self._count([run_outcome(r) for r in results])
        await record_egress(self.redis, self.backend, results)  # I5: blocked attempts, logged
        return results

    async def _count(self, outcomes: Sequence[str]) -> None:
        try:
            await stats.apply(self.redis, build_run_counts(self.backend, outcomes, self.clock()))
        except (RedisError, OSError):
            log.warning("sandbox runs not counted", exc_info=True, extra={"backend": self.backend})
