"""`autofix report`: what the bot did over a window, for a maintainer who has 30 seconds.

Pure core: `build_report(stats, ...)` over one `DayStats` (the day counters of app/stats.py merged
over the window, or the same counters rebuilt from job records by `counts_from_records`), and
`render_md` / `render_json`. The fetch functions read Redis and do nothing else.

Two sources, one meaning:
- all repositories: the day counters. They cover whole UTC days, so `--since 36h` reads the two or
  three days it touches; time-to-PR is measured from the failure.
- `--repo R`: the day counters are global, so the numbers are rebuilt from R's job records (index
  `autofix:jobrecs`, by last update, kept 90 days) with the rules the worker counts by
  (app/telemetry.py), their model calls (app/artefacts.py) and the audit stream's PR outcomes
  (capped at 100,000 entries: on a busy install, old merges may have been trimmed).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from redis.asyncio import Redis

from app import stats, telemetry
from app.artefacts import CALLS
from app.audit import AUDIT_STREAM
from app.job_records import INDEX, KEY, JobRecord
from app.stats import DayStats, median, merge, read_days

FIX_KINDS = ("fix_check_run", "fix_issue")
TOP_FINGERPRINTS = 5
_SINCE = re.compile(r"(\d+)([dh])")
BATCH = 500
SINCE_HELP = "expected a duration like 7d or 36h, or a date like 2026-11-14"


class SinceError(ValueError):
    """A bad `--since` value; the message is one line for the terminal."""


def parse_since(text: str, now: float) -> float:
    """`7d`, `36h`, `2026-11-14` or `2026-11-14T08:00:00Z` -> the window's start (a Unix time)."""
    value = text.strip()
    match = _SINCE.fullmatch(value)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        if n < 1:
            raise SinceError(f"--since {text!r}: {SINCE_HELP}")
        return now - n * (86_400 if unit == "d" else 3_600)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SinceError(f"--since {text!r}: {SINCE_HELP}") from None
    start = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if start >= now:
        raise SinceError(f"--since {text!r} is not in the past")
    return start


def days_between(start: float, end: float) -> list[str]:
    """The UTC days from `start`'s to `end`'s, oldest first."""
    first = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(end, UTC).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(math.ceil(p / 100 * len(s)) - 1, 0)]


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Report:
    since: str  # ISO times of the window
    until: str
    repo: str | None
    source: str  # "day counters" | "job records"
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> {"total", "outcomes"}
    attempts: int = 0  # fix jobs that went past the gate
    proven: int = 0
    proven_rate: float | None = None
    prs: dict[str, int] = field(default_factory=dict)  # opened, merged, closed, reverted
    merge_rate: float | None = None  # merged / opened
    time_to_pr: dict[str, float | int | None] = field(default_factory=dict)  # count, median_s, p90_s
    dollars: float = 0.0
    models: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> {"tokens", "dollars"}
    fingerprints: list[tuple[str, int]] = field(default_factory=list)
    flaky: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # reason code -> count


def _by_count(counts: dict[str, float]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}


def build_report(stats: DayStats, *, since: float, until: float, repo: str | None, source: str) -> Report:
    """The report of one window's counters (see app/stats.py for the counter names)."""
    jobs: dict[str, dict[str, Any]] = {}
    for kind, total in sorted(stats.by_prefix("jobs:").items()):
        jobs[kind] = {"total": int(total), "outcomes": _by_count(stats.by_prefix(f"outcome:{kind}:"))}
    attempts = sum(
        jobs[k]["total"] - sum(jobs[k]["outcomes"].get(o, 0) for o in telemetry.REFUSALS)
        for k in FIX_KINDS
        if k in jobs
    )
    proven = int(stats.get("proven"))
    prs = {what: int(stats.get(f"prs:{what}")) for what in ("opened", "merged", "closed", "reverted")}
    refusals: dict[str, float] = {}
    for name, n in stats.by_prefix("reason:").items():
        reason = name.split(":", 1)[-1]
        refusals[reason] = refusals.get(reason, 0) + n
    tokens, dollars = stats.by_prefix("tokens:"), stats.by_prefix("dollars:")
    models = {
        m: {"tokens": int(tokens.get(m, 0)), "dollars": round(dollars.get(m, 0), 4)}
        for m in sorted(tokens.keys() | dollars.keys())
    }
    ttp = stats.time_to_pr
    fps = sorted(stats.fingerprints.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FINGERPRINTS]
    return Report(
        since=_iso(since),
        until=_iso(until),
        repo=repo,
        source=source,
        jobs=jobs,
        attempts=attempts,
        proven=proven,
        proven_rate=_rate(proven, attempts),
        prs=prs,
        merge_rate=_rate(prs["merged"], prs["opened"]),
        time_to_pr={"count": len(ttp), "median_s": median(ttp), "p90_s": percentile(ttp, 90)},
        dollars=round(sum(dollars.values()), 4),
        models=models,
        fingerprints=fps,
        flaky=int(stats.get("flaky")),
        refusals=_by_count(refusals),
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def counts_from_records(
    records: Iterable[JobRecord], calls: dict[str, list[dict[str, Any]]], pr_outcomes: Iterable[str]
) -> DayStats:
    """One repository's counters, rebuilt from its finished job records with the worker's own rules
    (app/telemetry.py), their model calls by job id, and what became of its bot PRs ("merged",
    "closed", "reverted")."""
    out = DayStats("")

    def add(counts: stats.Counts) -> None:
        for key, name, amount in counts.items:
            if key == stats.TOTAL:  # each increment is listed for its day and for the total
                out.counters[name] = out.counters.get(name, 0) + amount

    for r in records:
        add(telemetry.build_job_counts(r, r.updated_at))
        fingerprint = telemetry.fingerprint_of(r)
        if fingerprint is not None:
            out.fingerprints[fingerprint] = out.fingerprints.get(fingerprint, 0) + 1
        if r.outcome in telemetry.OPENED_PR:
            out.time_to_pr.append(round(max(0.0, r.updated_at - telemetry.failure_time(r)), 3))
        for call in calls.get(r.job_id, []):
            add(telemetry.call_counts(call, r.updated_at))
    for what in pr_outcomes:
        out.counters[f"prs:{what}"] = out.counters.get(f"prs:{what}", 0) + 1
    return out


# -- rendering ------------------------------------------------------------------------------------


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "n/a"
    s = round(float(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def window_title(report: Report) -> str:
    scope = report.repo or "all repositories"
    return f"{report.since[:16].replace('T', ' ')} → {report.until[:16].replace('T', ' ')} UTC, {scope}"


def render_md(report: Report, *, title: str | None = None) -> str:
    """The report as short Markdown: one line per question, then the top fingerprints."""
    r = report
    total = sum(int(j["total"]) for j in r.jobs.values())
    by_kind = "; ".join(f"{k} {j['total']} ({_counts(j['outcomes'])})" for k, j in r.jobs.items())
    ttp = r.time_to_pr
    cost = "; ".join(f"{m} {v['tokens']:,} tokens ${v['dollars']:.2f}" for m, v in r.models.items())
    lines = [
        f"## {title or 'Autofix report'}",
        "",
        f"{window_title(r)} (from {r.source}).",
        "",
        f"- **Jobs**: {total}" + (f" — {by_kind}" if by_kind else ""),
        f"- **Proven fixes**: {r.proven} of {r.attempts} attempts ({_pct(r.proven_rate)})",
        f"- **PRs**: {r.prs['opened']} opened, {r.prs['merged']} merged ({_pct(r.merge_rate)}), "
        f"{r.prs['closed']} closed unmerged, {r.prs['reverted']} reverted",
        f"- **Time to PR**: median {_duration(ttp['median_s'])}, p90 {_duration(ttp['p90_s'])} "
        f"({ttp['count']} PRs)",
        f"- **Cost**: ${r.dollars:.2f}" + (f" — {cost}" if cost else ""),
        f"- **Flaky tests found**: {r.flaky}",
        f"- **Refusals**: {_counts(r.refusals) or 'none'}",
    ]
    if r.fingerprints:
        lines += ["", "| top failing fingerprints | failures |", "|---|---:|"]
        lines += [f"| `{fp}` | {n} |" for fp, n in r.fingerprints]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    data = asdict(report)
    data["fingerprints"] = [{"fingerprint": fp, "failures": n} for fp, n in report.fingerprints]
    return json.dumps(data, indent=2)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# -- reading Redis --------------------------------------------------------------------------------


async def fetch_report(redis: Redis, *, since: float, now: float, repo: str | None = None) -> Report:
    """The report of [since, now]: from the day counters, or from `repo`'s records (module docstring)."""
    if repo is None:
        stats = merge(await read_days(redis, days_between(since, now)))
        return build_report(stats, since=since, until=now, repo=None, source="day counters")
    records = await fetch_records(redis, since, now, repo)
    calls = await fetch_model_calls(redis, [r.job_id for r in records])
    outcomes = await fetch_pr_outcomes(redis, since, now, repo)
    stats = counts_from_records(records, calls, outcomes)
    return build_report(stats, since=since, until=now, repo=repo, source="job records")


async def fetch_records(redis: Redis, since: float, until: float, repo: str) -> list[JobRecord]:
    """`repo`'s finished job records last updated in [since, until]."""
    ids = await redis.zrangebyscore(INDEX, since, until)
    out = []
    for start in range(0, len(ids), BATCH):
        keys = [KEY.format(job_id=i.decode()) for i in ids[start : start + BATCH]]
        for raw in await redis.mget(keys):
            if raw is None:
                continue
            record = JobRecord.from_json(json.loads(raw))
            if record.repo == repo and record.status != "running":
                out.append(record)
    return out


async def fetch_model_calls(redis: Redis, job_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each job's model calls (app/artefacts.py), read in pipelined batches."""
    out: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(job_ids), BATCH):
        batch = job_ids[start : start + BATCH]
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in batch:
                pipe.lrange(CALLS.format(job_id=job_id), 0, -1)
            replies = await pipe.execute()
        out.update({job_id: [json.loads(c) for c in raw] for job_id, raw in zip(batch, replies, strict=True)})
    return out


async def fetch_pr_outcomes(redis: Redis, since: float, until: float, repo: str) -> list[str]:
    """What became of `repo`'s bot PRs in the window, from the audit stream: merged, closed, reverted."""
    out: list[str] = []
    low, high = f"{int(since * 1000)}-0", f"{int(until * 1000)}-{2**63 - 1}"
    while True:
        rows = await redis.xrange(AUDIT_STREAM, min=low, max=high, count=BATCH)
        for _id, fields in rows:
            kind = fields.get(b"kind", b"").decode()
            if kind in ("pr.outcome", "fix.reverted") and orjson.loads(fields.get(b"repo", b"null")) == repo:
                out.append("reverted" if kind == "fix.reverted" else orjson.loads(fields[b"outcome"]))
        if len(rows) < BATCH:
            return out
        low = "(" + rows[-1][0].decode()
