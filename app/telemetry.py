"""What the worker adds to the stats (app/stats.py): a finished job's counts, and each model call.

A job is counted once, when it finishes (`JobStore.finish` calls `count_job`), from its record alone:
its kind and outcome, the gate's reason when it was refused, whether the sandbox proved a fix, the PR
it opened and how long after the failure, each phase's time, flaky tests, the failure's fingerprint.
The counts are applied with `once=job_id`, so a retried job that finishes again adds nothing.

Model calls are counted as they happen (a job's calls are spread over minutes, and a crashed job's
calls still cost): `model_call_recorder(redis, job_id)` is the engine's `on_call` hook; it appends
the call to the job's artefacts and adds its tokens and dollars to the day's counters.

`build_job_counts` and the `*_of` readers are pure; only `count_job` and the recorder do I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import stats
from app.artefacts import JobArtefacts

if TYPE_CHECKING:
    from app.job_records import JobRecord

log = logging.getLogger("autofix.telemetry")

OPENED_PR = frozenset({"pr_opened", "draft_unproven"})  # job outcomes that opened a new PR
PROVEN = frozenset({"pr_opened", "pr_updated", "suggested"})  # outcomes only a proven fix reaches
REFUSALS = frozenset({"skipped", "cancelled", "config_error", "no_command", "stopped", "revise_refused"})
FAILURE_TIMES = ("completed_at", "failed_at", "label_event")  # request fields: when the failure was seen


def _iso(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def failure_time(record: JobRecord) -> float:
    """When the failure happened: the check run's completion or the label's time when the request
    carries it, else when the job was created."""
    for name in FAILURE_TIMES:
        at = _iso(record.request.get(name))
        if at is not None:
            return at
    return record.created_at


def refusal_of(record: JobRecord) -> str | None:
    """A refused or skipped job's reason code: the gate's, else the outcome itself (`no_command`)."""
    if record.outcome not in REFUSALS:
        return None
    gate = record.phase_named("gate")
    code = gate.outcome if gate is not None else None
    return code if code and code != "ok" else record.outcome


def proven_of(record: JobRecord) -> bool:
    """The validate phase says `proven`, or the job reached an outcome only a proven fix reaches."""
    validate = record.phase_named("validate")
    return (validate is not None and validate.outcome == "proven") or record.outcome in PROVEN


def flaky_of(record: JobRecord) -> int:
    """Flaky tests the reproduction found: the tests it names, else the failing tests, at least 1."""
    repro = record.phase_named("reproduce")
    if repro is None or repro.outcome != "flaky":
        return 0
    evidence = record.phase_named("evidence")
    tests = repro.detail.get("tests") or (evidence.detail.get("failing_tests") if evidence else None)
    return max(1, len(tests)) if isinstance(tests, list) else 1


def fingerprint_of(record: JobRecord) -> str | None:
    evidence = record.phase_named("evidence")
    found = evidence.detail.get("fingerprint") if evidence is not None else None
    if not found:
        report = record.checkpoints.get("report")
        found = report.get("fingerprint") if isinstance(report, dict) else None
    return str(found) if found else None


def build_job_counts(record: JobRecord, now: float) -> stats.Counts:
    """The counters a finished job adds on the day it finished. Pure."""
    day, kind = stats.day_of(now), record.kind
    counts = stats.Counts().add(day, f"jobs:{kind}").add(day, f"outcome:{kind}:{record.outcome or 'none'}")
    reason = refusal_of(record)
    if reason is not None:
        counts.add(day, f"reason:{kind}:{reason}")
    if proven_of(record):
        counts.add(day, "proven")
    if record.outcome in OPENED_PR:
        counts.add(day, "prs:opened")
    for phase in record.phases:
        if phase.status in ("done", "failed") and phase.seconds is not None:
            counts.add(day, f"phase_seconds:{phase.name}", max(0.0, phase.seconds))
            counts.add(day, f"phase_count:{phase.name}")
    flaky = flaky_of(record)
    if flaky:
        counts.add(day, "flaky", flaky)
    return counts


async def count_job(redis: Redis, record: JobRecord, *, now: float | None = None) -> bool:
    """Count a finished job, once per job id; False when it was counted before (or Redis failed:
    the job's own outcome is already saved, and stats are not worth failing it over)."""
    now = time.time() if now is None else now
    try:
        if not await stats.apply(redis, build_job_counts(record, now), once=record.job_id):
            return False
        fingerprint = fingerprint_of(record)
        if fingerprint is not None:
            await stats.add_fingerprint(redis, fingerprint, now=now)
        if record.outcome in OPENED_PR:
            await stats.add_time_to_pr(redis, max(0.0, now - failure_time(record)), now=now)
    except (RedisError, OSError):
        log.warning("job not counted", exc_info=True, extra={"job_id": record.job_id})
        return False
    return True


def call_counts(call: dict[str, Any], now: float) -> stats.Counts:
    """A model call's tokens (all kinds: input, output, cache reads and writes) and dollars. Pure."""
    model = str(call.get("model") or "unknown")
    tokens = sum(
        int(call.get(k) or 0)
        for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    )
    day = stats.day_of(float(call.get("at") or now))
    return (
        stats.Counts()
        .add(day, f"tokens:{model}", tokens)
        .add(day, f"dollars:{model}", call.get("dollars") or 0)
    )


def model_call_recorder(
    redis: Redis, job_id: str, *, clock: Callable[[], float] = time.time
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The engine's `on_call` hook for job `job_id` (jobs/patch/agent.py): artefacts, then stats."""
    artefacts = JobArtefacts(redis)

    async def record(call: dict[str, Any]) -> None:
        await artefacts.add_model_call(job_id, call)
        await stats.apply(redis, call_counts(call, clock()))

    return record
