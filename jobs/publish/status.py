"""What the bot shows while it works: the sticky status comment and its own `Autofix` check run. Pure.

Both are rendered from the job record, so they always agree with the dashboard. The check run's
conclusion says what a maintainer should make of it: `success` (a fix is proposed), `neutral`
(nothing to do, or skipped for a stated reason), `action_required` (a human is needed: an unproven
fix, a broken config), `failure` only when Autofix itself failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.job_records import PHASES, JobRecord
from app.repo_config import ConfigProblem

CHECK_NAME = "Autofix"
STATUS_MARKER = "status"
_ICON = {"done": "✅", "running": "⏳", "failed": "❌", "skipped": "⏭️"}
CONCLUSIONS = {
    "pr_opened": "success",
    "pr_updated": "success",
    "suggested": "success",
    "skipped": "neutral",
    "cancelled": "neutral",
    "flaky": "neutral",
    "broken_base": "neutral",
    "cannot_reproduce": "neutral",
    "unproven": "action_required",
    "config_error": "action_required",
    "error": "failure",
}


@dataclass(frozen=True)
class CheckView:
    status: str  # "in_progress" | "completed"
    conclusion: str | None
    title: str
    summary: str


def render_timeline(record: JobRecord) -> str:
    rows = ["| phase | status | time | outcome |", "|---|---|---|---|"]
    for name in PHASES:
        phase = record.phase_named(name)
        if phase is None:
            continue
        seconds = f"{phase.seconds:.1f} s" if phase.seconds is not None else "…"
        rows.append(
            f"| {name} | {_ICON.get(phase.status, phase.status)} | {seconds} | {phase.outcome or ''} |"
        )
    return "\n".join(rows)


def current_phase(record: JobRecord) -> str | None:
    running = [p.name for p in record.phases if p.status == "running"]
    return running[-1] if running else None


def render_status_comment(record: JobRecord, *, links: dict[str, str] | None = None) -> str:
    """The one comment on the issue or PR, edited as the job moves on."""
    if record.status == "running":
        phase = current_phase(record) or "starting"
        head = f"**Autofix is working on this** (phase: {phase}, try {record.tries})."
    else:
        outcome = (record.outcome or "done").replace("_", " ")
        head = f"**Autofix finished: {outcome}.** {record.reason or ''}".rstrip()
    lines = [head]
    for label, url in (links or {}).items():
        lines.append(f"- {label}: {url}")
    lines += ["", "<details><summary>Phases</summary>", "", render_timeline(record), "", "</details>"]
    return "\n".join(lines)


def render_check(record: JobRecord) -> CheckView:
    """The bot's own check run on the failing commit."""
    if record.status == "running":
        phase = current_phase(record) or "starting"
        return CheckView("in_progress", None, f"Working: {phase}", render_timeline(record))
    outcome = record.outcome or "error"
    conclusion = CONCLUSIONS.get(outcome, "neutral")
    title = outcome.replace("_", " ").capitalize()
    summary = (record.reason or "") + "\n\n" + render_timeline(record)
    return CheckView("completed", conclusion, title, summary.strip())


def render_config_error(problems: list[ConfigProblem], path: str = ".github/autofix.yml") -> CheckView:
    """A broken repo config, on the check run: every problem located, and what to do."""
    rows = "\n".join(f"- {p}" for p in problems)
    summary = (
        f"`{path}` on the default branch does not validate, so Autofix does nothing in this repository "
        f"until it is fixed:\n\n{rows}\n\nThe reference lists every key: docs/configuration.md."
    )
    count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
    return CheckView("completed", "action_required", f"{path}: {count}", summary)
