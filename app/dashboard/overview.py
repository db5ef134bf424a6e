"""The overview's numbers, from plain data: the last days' counters (app.stats), queue and worker
readings. Pure, so the page, `/api/overview` and the tests agree on every figure.

Definitions (docs/dashboard.md says the same):
  done today       jobs finished today (UTC), every kind
  proven-fix rate  jobs whose sandbox proved a fix / fix jobs that were attempted (fix_check_run and
                   fix_issue, minus those skipped or cancelled by the gate), last 30 days
  PRs              merged vs closed unmerged, last 30 days (and opened)
  time-to-PR       median seconds from the failure to the PR, last 30 days
  spend            model dollars and tokens today and this month (UTC), against budgets when known
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.stats import DayStats, median, merge

WINDOW_DAYS = 30
FIX_KINDS = ("fix_check_run", "fix_issue")
NOT_ATTEMPTED = ("skipped", "cancelled")


@dataclass(frozen=True)
class OverviewFacts:
    today: str  # YYYY-MM-DD (UTC)
    days: list[DayStats]  # oldest first, ending with today; 31 of them so a whole month fits
    running: int = 0
    queued: int = 0
    queue_depth: int = 0
    workers: list[dict[str, Any]] = field(default_factory=list)
    budget_day: float | None = None  # sum of the known repos' dollars_per_day, if any are known
    budget_month: float | None = None
    paused: bool = False


def _attempted(stats: DayStats) -> float:
    total = 0.0
    for kind in FIX_KINDS:
        total += stats.get(f"jobs:{kind}")
        total -= sum(stats.get(f"outcome:{kind}:{o}") for o in NOT_ATTEMPTED)
    return max(total, 0)


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _outcomes(stats: DayStats) -> dict[str, float]:
    """Finished jobs by outcome code, all kinds together."""
    out: dict[str, float] = {}
    for name, n in stats.by_prefix("outcome:").items():
        outcome = name.split(":", 1)[1] if ":" in name else name
        out[outcome] = out.get(outcome, 0) + n
    return out


def build_overview(facts: OverviewFacts) -> dict[str, Any]:
    window = facts.days[-WINDOW_DAYS:]
    month_prefix = facts.today[:7]
    today = next((d for d in facts.days if d.day == facts.today), DayStats(facts.today))
    month = merge(d for d in facts.days if d.day.startswith(month_prefix))
    recent = merge(window)
    prs = recent.by_prefix("prs:")
    attempted = _attempted(recent)
    return {
        "today": facts.today,
        "paused": facts.paused,
        "running": facts.running,
        "queued": facts.queued,
        "queue_depth": facts.queue_depth,
        "done_today": today.sum_prefix("jobs:"),
        "proven": {
            "proven": recent.get("proven"),
            "attempted": attempted,
            "rate": _rate(recent.get("proven"), attempted),
        },
        "prs": {
            "opened": prs.get("opened", 0),
            "merged": prs.get("merged", 0),
            "closed": prs.get("closed", 0),
        },
        "time_to_pr_median_s": median(recent.time_to_pr),
        "spend_today": {
            "dollars": round(today.sum_prefix("dollars:"), 4),
            "tokens": today.sum_prefix("tokens:"),
            "budget": facts.budget_day,
        },
        "spend_month": {
            "dollars": round(month.sum_prefix("dollars:"), 4),
            "tokens": month.sum_prefix("tokens:"),
            "budget": facts.budget_month,
        },
        "workers": {"alive": len(facts.workers), "ids": [str(w.get("id")) for w in facts.workers]},
        "charts": {
            "jobs": [{"day": d.day, "outcomes": _outcomes(d)} for d in window],
            "spend": [{"day": d.day, "dollars": round(d.sum_prefix("dollars:"), 4)} for d in window],
        },
    }


def render_duration(seconds: float | None) -> str:
    """`95` -> "1 min 35 s"; None -> "—"."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"
