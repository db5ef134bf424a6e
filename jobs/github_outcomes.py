"""What a job does when GitHub says no: the outcome table (app.github.errors.decide) applied to arq.

- RETRY: `arq.Retry` deferred to the time GitHub named (rate-limit reset, retry-after, backoff);
  the worker never sleeps through a rate limit, and other jobs run meanwhile.
- GIVE_UP: the job ends without error and records why (a human has to act, e.g. grant a
  permission); telling the people on the thread is the pipeline's part.
- FAIL: the job fails with the reason, once; arq does not retry plain exceptions.
Either way a job record the job left running is finished with the reason (`gave_up`, `github_error`).
Every stop is written to the audit stream. A job that dies (any other exception, or a retry past
DEAD_AFTER_TRIES) also leaves a dead letter (app/deadletters.py) and a failed job record, so a poison
job is visible instead of silently gone.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry

from app.audit import append_audit
from app.deadletters import add_dead_letter
from app.github.errors import GitHubError, Outcome, decide
from app.job_records import JobStore

log = logging.getLogger("autofix.jobs")
JobFunction = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]
MIN_DEFER_S = 1.0
DEAD_AFTER_TRIES = 5  # the worker's max_tries: a retry asked for at this try would never run


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
                if int(ctx.get("job_try") or 1) >= DEAD_AFTER_TRIES:
                    await bury(
                        ctx, fn.__name__, f"gave up after {ctx.get('job_try')} tries: {decision.reason}"
                    )
                    raise JobFailed(decision.reason) from None
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
                await end_record(ctx, "gave_up", decision.reason)
                return {"gave_up": decision.reason}
            log.error("failed: %s", decision.reason, extra=extra)
            await end_record(ctx, "github_error", decision.reason, failed=True)
            raise JobFailed(decision.reason) from None
        except (Retry, JobFailed):
            raise
        except Exception as e:
            await bury(ctx, fn.__name__, f"{type(e).__name__}: {e}")
            raise

    return run


async def bury(ctx: dict[str, Any], function: str, error: str) -> None:
    """Leave the dead letter, the audit entry and the failed job record of a job that died."""
    redis, job_id, tries = ctx["redis"], str(ctx.get("job_id")), int(ctx.get("job_try") or 1)
    log.error("job died: %s", error, extra={"job_id": job_id, "job_try": tries, "function": function})
    await add_dead_letter(redis, job_id, function, tries, error)
    await append_audit(redis, "job.dead", job_id=job_id, function=function, tries=tries, error=error[:500])
    await end_record(ctx, "dead", f"stopped after an unexpected error: {error[:300]}", failed=True)


async def end_record(ctx: dict[str, Any], outcome: str, reason: str, *, failed: bool = False) -> None:
    """Finish the job's record if the job left it running: never "running" for good (the dashboard,
    `/autofix status` and the metrics read it)."""
    store = JobStore(ctx["redis"])
    record = await store.get(str(ctx.get("job_id")))
    if record is not None and record.status == "running":
        await store.finish(record, outcome, reason, failed=failed)
