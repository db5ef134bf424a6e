"""Recording what looked like an attack: untrusted text that reads like prompt injection (G1), and a
sandbox run that tried to reach the network (I5).

Neither changes what the job does: the guardrails (fenced prompts, no secret in reach, the patch
guard, the network namespace) hold either way. Each finding becomes one warning line in the job's
log (app/joblog.py gives it the job's ids) and one entry in the audit trail, which the dashboard
shows on the job's page; the attacker's text appears only as a short, redacted excerpt. Recording
never fails the job: an audit trail that Redis refuses is a logged warning.

  suspicious.injection  job_id, repo, source ("issue" | "ci_log"), reasons, example, hidden
  sandbox.egress        job_id, repo, backend, candidate, count, example, hosts
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.audit import append_audit
from app.job_records import PhaseRecord
from app.joblog import add_context
from sandbox_runner.egress import scan_run
from sandbox_runner.injection import Finding, scan_untrusted
from sandbox_runner.redact import redact
from sandbox_runner.result import RunResult

log = logging.getLogger("autofix.suspicion")
INJECTION = "suspicious.injection"
EGRESS = "sandbox.egress"


def current_job() -> dict[str, Any]:
    """The running job's `job_id` and `repo`, as its log lines carry them (empty outside a job)."""
    record = logging.makeLogRecord({})
    add_context(record)
    return {k: record.__dict__[k] for k in ("job_id", "repo") if record.__dict__.get(k) is not None}


def build_injection_summary(findings: Sequence[Finding]) -> dict[str, Any]:
    """What the job record and the audit entry keep of the findings: reasons, one short example."""
    return {
        "reasons": [f.reason for f in findings],
        "example": redact(findings[0].excerpt),
        "hidden": any(f.hidden for f in findings),
    }


async def _audit(redis: Redis, kind: str, **fields: Any) -> None:
    try:
        await append_audit(redis, kind, **fields)
    except (RedisError, OSError):
        log.warning("%s not written to the audit trail", kind, exc_info=True)


async def record_injection(
    redis: Redis, text: str, *, source: str, prose: bool = True, job: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Scan untrusted `text` that will reach the model; when it reads like an attempt, log a warning
    and append an audit entry (with `job`'s ids, else the running job's). The summary, or None."""
    findings = scan_untrusted(text, prose=prose)
    if not findings:
        return None
    summary = build_injection_summary(findings)
    job = job if job is not None else current_job()
    reasons = ", ".join(summary["reasons"])
    log.warning(
        "untrusted %s reads like prompt injection (%s): %s; it reaches the model only as fenced data",
        source,
        reasons,
        summary["example"],
        extra={"suspicious": INJECTION, "source": source, "reasons": summary["reasons"]} | job,
    )
    await _audit(redis, INJECTION, source=source, **summary, **job)
    return summary


class Job(Protocol):
    """What a fix job (jobs/fix_check.py, jobs/fix_issue.py) has that a finding needs."""

    job_id: str
    owner: str
    name: str
    phase: PhaseRecord | None


async def note_untrusted(job: Job, redis: Redis, text: str, source: str, *, prose: bool = True) -> None:
    """`record_injection` for `job`, the summary kept in its current phase's details (`suspicious`)."""
    ids = {"job_id": job.job_id, "repo": f"{job.owner}/{job.name}"}
    summary = await record_injection(redis, text, source=source, prose=prose, job=ids)
    if summary is not None and job.phase is not None:
        job.phase.detail["suspicious"] = summary


async def record_egress(redis: Redis, backend: str, results: Sequence[RunResult]) -> int:
    """One warning and one audit entry per run whose output shows blocked network attempts; returns
    how many runs tried. The runs' outcomes are left as they are."""
    job = current_job()
    tried = 0
    for run in results:
        found = scan_run(run)
        if found is None:
            continue
        tried += 1
        example = redact(found.example)
        log.warning(
            "sandbox run %s tried to reach the network %d time(s), blocked: %s",
            run.candidate_id,
            found.count,
            example,
            extra={"suspicious": EGRESS, "backend": backend, "hosts": list(found.hosts)} | job,
        )
        fields = {"count": found.count, "example": example, "hosts": list(found.hosts)}
        await _audit(redis, EGRESS, backend=backend, candidate=run.candidate_id, **fields, **job)
    return tried
