"""What a job does when GitHub says no: the outcome table (app.github.errors.decide) applied to arq.

- RETRY: `arq.Retry` deferred to the time GitHub named (rate-limit reset, retry-after, backoff);
  the worker never sleeps through a rate limit, and other jobs run meanwhile.
- GIVE_UP: the job ends without error and records why (a human has to act, e.g. grant a
  permission); telling the people on the thread is the pipeline's part.
- FAIL: the job fails with the reason, once; arq does not retry plain exceptions.
Every stop is written to the audit stream.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry

from app.audit import append_audit
from app.github.errors import GitHubError, Outcome, decide

log = logging.getLogger("autofix.jobs")
JobFunction = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]
MIN_DEFER_S = 1.0


class JobFailed(Exception):
    """A job stopped for good; the message is the reason, safe to show (never a token)."""


def github_outcomes(fn: JobFunction, clock: Callable[[], float] = time.time) -> JobFunction:
    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await fn(ctx, request)
        except GitHubError as error:
            decision = decide(error)
            extra = {
                "job_id": ctx.get("job_id"),
                "job_try": ctx.get("job_try"),
                "outcome": decision.outcome.value,
            }
            if decision.outcome is Outcome.RETRY and decision.retry_at is not None:
                defer = max(MIN_DEFER_S, decision.retry_at - clock())
                log.warning("retrying in %.0fs: %s", defer, decision.reason, extra=extra)
                raise Retry(defer=defer) from None
            await append_audit(
                ctx["redis"],
                f"job.{decision.outcome.value}",
                job_id=ctx.get("job_id"),
                reason=decision.reason,
            )
            if decision.outcome is Outcome.GIVE_UP:
                log.warning("gave up: %s", decision.reason, extra=extra)
                return {"gave_up": decision.reason}
            log.error("failed: %s", decision.reason, extra=extra)
            raise JobFailed(decision.reason) from None

    return run
