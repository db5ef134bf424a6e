"""The evidence phase: a failed check run (or a labelled issue) becomes a FailureReport.

For a GitHub Actions check run the job's log is downloaded (its tail, capped) and parsed. For another
CI's check run, or when the log has expired, the check run's own output (title, summary, text) is
what there is, and the report says which it used. For an issue, the title and body are parsed the
same way (quoted tracebacks and test ids), with the issue as the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.github.actions_logs import download_job_log
from app.github.checks import CheckRun, fetch_check_run
from app.github.client import Installation
from app.github.errors import NotFound
from sandbox_runner.report import FailureReport, build_report

MAX_LOG_BYTES = 20 * 1024 * 1024  # a job log's tail: failures are at the end


@dataclass(frozen=True)
class Evidence:
    report: FailureReport
    check: CheckRun | None
    log_source: str  # "actions_log" | "check_output" | "issue"
    log_truncated: bool = False
    note: str | None = None  # e.g. "the job log has expired; read the check run's summary instead"


def check_output_text(check: CheckRun) -> str:
    return "\n".join(part for part in (check.title, check.summary) if part)


async def fetch_check_evidence(
    inst: Installation,
    owner: str,
    repo: str,
    check_run_id: int,
    *,
    repo_command: str | None = None,
    max_log_bytes: int = MAX_LOG_BYTES,
) -> Evidence:
    check = await fetch_check_run(inst, owner, repo, check_run_id)
    source = {
        "kind": "check_run",
        "repo": f"{owner}/{repo}",
        "check_run_id": check.id,
        "check_name": check.name,
        "head_sha": check.head_sha,
        "url": check.details_url,
    }
    note = None
    if check.actions_job_id is not None:
        try:
            log = await download_job_log(inst, owner, repo, check.actions_job_id, max_log_bytes)
        except NotFound:
            note = "The job log has expired or was deleted; this report reads the check run's summary."
        else:
            report = build_report(log.text, source=source | {"log": "actions"}, repo_command=repo_command)
            return Evidence(report, check, "actions_log", log.truncated)
    else:
        note = "Not a GitHub Actions check: this report reads the check run's summary."
    report = build_report(
        check_output_text(check), source=source | {"log": "check_output"}, repo_command=repo_command
    )
    return Evidence(report, check, "check_output", note=note)


def issue_evidence(
    repo: str, number: int, title: str, body: str | None, *, repo_command: str | None = None
) -> Evidence:
    """The report of an issue's text: a quoted traceback or failing test makes it specific."""
    source = {"kind": "issue", "repo": repo, "issue_number": number, "title": title}
    report = build_report(f"{title}\n{body or ''}", source=source, repo_command=repo_command)
    return Evidence(report, None, "issue")
