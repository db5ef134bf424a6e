"""A repair's artefacts for the dashboard's job page: what the job saw and made, in the sections of
app/artefacts.py (report, localization, candidates, sandbox, verdicts, links).

`build_sections` is pure and bounds what it keeps (a diff, a log tail, the locations), so one job
cannot fill Redis; `save_repair` writes them in one call, which is all a job needs to add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from app.artefacts import JobArtefacts
from jobs.patch.context import Candidate
from jobs.repair import Repair
from sandbox_runner.report import FailureReport
from sandbox_runner.result import RunResult

MAX_LOCATIONS = 20
MAX_DIFF_CHARS = 40_000
MAX_LOG_CHARS = 4_000
_PASSED = ("passed", "xpassed")
_FAILED = ("failed", "error")


def _cut(text: str, limit: int, *, tail: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "…" + text[-limit:] if tail else text[:limit] + "\n… (cut)"


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        "id": c.id,
        "strategy": c.strategy,
        "outcome": c.outcome,
        "rejected_because": list(c.rejected_because),
        "agreement": c.agreement,
        "diff": _cut(c.diff, MAX_DIFF_CHARS),
        "diagnosis": asdict(c.diagnosis) if c.diagnosis is not None else None,
    }


def sandbox_row(run: RunResult, backend: str) -> dict[str, Any]:
    outcomes = [t.outcome.value for t in run.tests]
    return {
        "candidate": run.candidate_id,
        "backend": backend,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "duration_s": round(run.duration_s, 3),
        "passed": sum(o in _PASSED for o in outcomes),
        "failed": sum(o in _FAILED for o in outcomes),
        "log_tail": _cut(run.log_tail, MAX_LOG_CHARS, tail=True),
    }


def build_sections(
    repair: Repair | None,
    *,
    backend: str,
    report: FailureReport | None = None,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The sections a job has something for (a skipped job: perhaps only its report and links)."""
    sections: dict[str, Any] = {}
    if report is not None:
        sections["report"] = report.to_json()
    if links:
        sections["links"] = dict(links)
    if repair is None:
        return sections
    sections["localization"] = [
        {"file": loc.file, "symbol": loc.symbol, "start": loc.start_line, "end": loc.end_line,
         "score": round(loc.score, 4), "why": list(loc.why)}
        for loc in repair.context.locations[:MAX_LOCATIONS]
    ]  # fmt: skip
    sections["candidates"] = [_candidate(c) for c in repair.candidates]
    runs = ([repair.baseline] if repair.baseline is not None else []) + list(repair.runs.values())
    sections["sandbox"] = [sandbox_row(r, backend) for r in runs]
    sections["verdicts"] = [
        {"candidate": v.candidate_id, "proven": v.proven, "reason": v.reason} for v in repair.verdicts
    ]
    return sections


async def save_repair(
    artefacts: JobArtefacts,
    job_id: str,
    repair: Repair | None,
    *,
    backend: str,
    report: FailureReport | None = None,
    links: Mapping[str, str] | None = None,
) -> None:
    sections = build_sections(repair, backend=backend, report=report, links=links)
    if sections:
        await artefacts.put(job_id, **sections)
