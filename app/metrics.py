"""Prometheus metrics: the web side's own (a registry per app, no process-global state) and the
worker's, read from Redis at each scrape (app/stats.py; series listed in docs/metrics.md).

The worker's counters live in Redis because web and worker are separate processes, often on separate
hosts. A scrape reads them in one pipelined round trip (`fetch_snapshot`: the running totals, the
GitHub rate reading, PR outcomes, the queues and the live workers) and `build_families` turns that
snapshot into metric families, pure. Label values are bounded: a kind, outcome, reason, phase or
sandbox outcome autofix does not know becomes "other", and models beyond the dearest MAX_MODELS too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.metrics import disable_created_metrics
from prometheus_client.registry import Collector

from app import stats
from app.job_records import PHASES
from app.pipelined_redis import PipelinedRedis
from jobs import names

# the *_created series only add noise to a scrape
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"  # the label of any value autofix does not know, so labels stay bounded
OTHER_EVENT = OTHER
PR_OUTCOMES_KEY = (
    "autofix:stats:pr_outcomes"  # hash: merged | closed | reverted -> count (jobs/pr_outcome.py)
)
QUEUES = {names.FIX_QUEUE: "fix", names.COMMAND_QUEUE: "command"}
IN_PROGRESS = "arq:in-progress:"  # arq.constants.in_progress_key_prefix: a job some worker is running
SCAN_QUEUE = 100  # queue entries looked at for the oldest waiting job (running ones come first)
MAX_MODELS = 20

KINDS = frozenset(names.ALL)
OUTCOMES = frozenset({
    "pr_opened", "pr_updated", "draft_unproven", "suggested", "unproven", "flaky", "broken_base",
    "cannot_reproduce", "skipped", "cancelled", "config_error", "no_command", "stopped",
    "revise_refused", "sandbox_error", "replied", "none", "spend_limit", "gave_up", "github_error", "dead",
})  # fmt: skip
REASONS = frozenset({
    "disabled", "paused", "trigger_off", "own_branch", "own_check", "check_not_watched",
    "check_app_not_watched", "circuit_open", "budget_installation_dollars_per_day", "permission",
    "branch_not_allowed", "fork_off", "pull_requests_off", "not_fixable", "superseded", "ignored",
    "rejected_before", "open_pr", "budget_jobs_per_hour", "budget_jobs_per_day", "budget_dollars_per_day",
    "budget_dollars_per_month", "budget_open_prs", "skipped", "cancelled", "config_error", "no_command",
    "stopped", "revise_refused",
})  # fmt: skip
SANDBOX_BACKENDS = frozenset({"local", "actions"})
SANDBOX_OUTCOMES = frozenset({
    "passed", "failed", "timeout", "not_applied", "error", "sandbox_error", "unavailable",
    "workflow_missing", "workflow_refused", "patches_too_large", "cancelled", "timed_out", "setup_failed",
    "artifacts_expired", "results_missing",
})  # fmt: skip
PR_EVENTS = frozenset({"opened", "merged", "closed", "reverted"})

# KEYS: the queues. ARGV: now (ms), the in-progress prefix, how many entries to look at.
# Per queue: its depth, and the score (enqueue time, ms) of its oldest job no worker runs yet, or -1.
_QUEUE_INFO = """
local out = {}
for _, queue in ipairs(KEYS) do
  local oldest = '-1'
  local first = redis.call('ZRANGE', queue, 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
  for i = 1, #first, 2 do
    if tonumber(first[i + 1]) <= tonumber(ARGV[1]) and redis.call('EXISTS', ARGV[2] .. first[i]) == 0 then
      oldest = first[i + 1]
      break
    end
  end
  out[#out + 1] = redis.call('ZCARD', queue)
  out[#out + 1] = oldest
end
return out
"""


@dataclass
class Snapshot:
    """What one scrape read from Redis."""

    now: float
    totals: dict[str, float] = field(default_factory=dict)
    github: dict[str, float] = field(default_factory=dict)
    pr_outcomes: dict[str, float] = field(default_factory=dict)
    queues: dict[str, tuple[int, float | None]] = field(default_factory=dict)  # label -> depth, oldest (s)
    workers_alive: int = 0


def _hash(flat: list[bytes]) -> dict[str, float]:
    """HGETALL's flat [field, value, …] reply."""
    return {k.decode(): float(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


async def fetch_snapshot(redis: PipelinedRedis, now: float) -> Snapshot:
    """Everything a scrape shows, in one round trip (the commands go out together, pipelined)."""
    queues = list(QUEUES)
    totals, github, outcomes, info, alive = await asyncio.gather(
        redis.execute("HGETALL", stats.TOTAL),
        redis.execute("HGETALL", stats.GITHUB),
        redis.execute("HGETALL", PR_OUTCOMES_KEY),
        redis.execute("EVAL", _QUEUE_INFO, len(queues), *queues, int(now * 1000), IN_PROGRESS, SCAN_QUEUE),
        redis.execute("ZCOUNT", stats.WORKERS, repr(now - stats.ALIVE_S), "+inf"),
    )
    snap = Snapshot(now, _hash(totals), _hash(github), _hash(outcomes), workers_alive=int(alive))
    for i, queue in enumerate(queues):
        depth, oldest = int(info[2 * i]), float(info[2 * i + 1])
        snap.queues[QUEUES[queue]] = (depth, None if oldest < 0 else oldest / 1000)
    return snap


def _bounded(value: str, known: Iterable[str]) -> str:
    return value if value in known else OTHER


def _split(totals: Mapping[str, float], prefix: str, parts: int) -> Iterator[tuple[list[str], float]]:
    """Counters named `prefix` + `a:b…` as ([a, b, …], value); `parts` labels, the last keeps colons."""
    for name, value in totals.items():
        if name.startswith(prefix):
            labels = name[len(prefix) :].split(":", parts - 1)
            if len(labels) == parts:
                yield labels, value


def _sum_by(items: Iterable[tuple[tuple[str, ...], float]]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for key, value in items:
        out[key] = out.get(key, 0) + value
    return out


def _counter(name: str, doc: str, labels: list[str], values: Mapping[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _models(totals: Mapping[str, float]) -> dict[str, str]:
    """Each model seen -> its label: itself for the MAX_MODELS dearest, "other" for the rest."""
    spent = {m[0]: v for m, v in _split(totals, "dollars:", 1)}
    seen = set(spent) | {m[0] for m, _ in _split(totals, "tokens:", 1)}
    ranked = sorted(seen, key=lambda m: (-spent.get(m, 0), m))
    return {m: (m if i < MAX_MODELS else OTHER) for i, m in enumerate(ranked)}


def _summary(name: str, doc: str, label: str | None, rows: Mapping[str, tuple[float, float]]) -> Metric:
    family = SummaryMetricFamily(name, doc, labels=[label] if label else None)
    for key, (count, total) in sorted(rows.items()):
        family.add_metric([key] if label else [], count_value=int(count), sum_value=total)
    return family


def build_families(snap: Snapshot) -> list[Metric]:
    """The worker's series from one snapshot. Pure."""
    t = snap.totals
    jobs = _sum_by(((_bounded(k, KINDS), _bounded(o, OUTCOMES)), v) for (k, o), v in _split(t, "outcome:", 2))
    refusals = _sum_by(
        ((_bounded(k, KINDS), _bounded(r, REASONS)), v) for (k, r), v in _split(t, "reason:", 2)
    )
    phase_sum = _sum_by(((_bounded(p, PHASES),), v) for (p,), v in _split(t, "phase_seconds:", 1))
    phase_count = _sum_by(((_bounded(p, PHASES),), v) for (p,), v in _split(t, "phase_count:", 1))
    phases = {p: (phase_count.get((p,), 0), phase_sum.get((p,), 0)) for (p,) in phase_count | phase_sum}
    models = _models(t)
    tokens = _sum_by(((models[m],), v) for (m,), v in _split(t, "tokens:", 1))
    dollars = _sum_by(((models[m],), v) for (m,), v in _split(t, "dollars:", 1))
    sandbox = _sum_by(
        ((_bounded(b, SANDBOX_BACKENDS), _bounded(o, SANDBOX_OUTCOMES)), v)
        for (b, o), v in _split(t, "sandbox:", 2)
    )
    prs = _sum_by(((_bounded(e, PR_EVENTS),), v) for (e,), v in _split(t, "prs:", 1))
    out = [
        _counter("autofix_jobs", "Jobs finished, by kind and outcome", ["kind", "outcome"], jobs),
        _counter(
            "autofix_job_refusals",
            "Jobs refused or skipped, by kind and reason code",
            ["kind", "reason"],
            refusals,
        ),
        _summary("autofix_phase_seconds", "Time spent in each job phase", "phase", phases),
        _summary(
            "autofix_time_to_pr_seconds",
            "From the failure to the PR that fixes it",
            None,
            {"": (t.get("ttp_count", 0), t.get("ttp_seconds", 0))},
        ),
        _counter(
            "autofix_model_tokens", "Model tokens (input, output, cache reads and writes)", ["model"], tokens
        ),
        _counter("autofix_model_dollars", "Model spend in dollars", ["model"], dollars),
        _counter(
            "autofix_sandbox_runs", "Sandbox runs by backend and outcome", ["backend", "outcome"], sandbox
        ),
        _counter(
            "autofix_github_api_calls",
            "GitHub API requests made by the workers",
            [],
            {(): t.get("github_calls", 0)},
        ),
        _counter("autofix_proven_fixes", "Jobs whose fix the sandbox proved", [], {(): t.get("proven", 0)}),
        _counter("autofix_flaky_tests", "Flaky tests found by reproduction", [], {(): t.get("flaky", 0)}),
        _counter(
            "autofix_prs", "Autofix pull requests opened, merged, closed unmerged, reverted", ["event"], prs
        ),
        _gauge_rows(
            "autofix_pr_outcomes",
            "Autofix pull requests by what became of them (merged, closed unmerged, merged then reverted)",
            "outcome",
            snap.pr_outcomes,
        ),
        _gauge_rows(
            "autofix_queue_depth",
            "Jobs waiting or running in each arq queue",
            "queue",
            {q: d for q, (d, _) in snap.queues.items()},
        ),
        _gauge_rows(
            "autofix_queue_oldest_job_age_seconds",
            "Age of the oldest job no worker has started (0 when none waits)",
            "queue",
            {q: (max(0.0, snap.now - at) if at is not None else 0.0) for q, (_, at) in snap.queues.items()},
        ),
        GaugeMetricFamily(
            "autofix_workers_alive", "Workers whose heartbeat is recent", value=snap.workers_alive
        ),
    ]
    for key, doc in (
        ("remaining", "GitHub API requests left in the current rate-limit window (last reading)"),
        ("limit", "GitHub API requests allowed per rate-limit window (last reading)"),
        ("reset", "When the GitHub rate-limit window resets, in Unix seconds (last reading)"),
    ):
        if key in snap.github:
            out.append(GaugeMetricFamily(f"autofix_github_rate_limit_{key}", doc, value=snap.github[key]))
    return out


def _gauge_rows(name: str, doc: str, label: str, rows: Mapping[str, float]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(rows.items()):
        family.add_metric([key], value)
    return family


class StatsCollector(Collector):
    """Serves the last snapshot the scrape handler fetched (collect() cannot await)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        if self.snapshot is not None:
            yield from build_families(self.snapshot)


class WebMetrics:
    def __init__(self, known_events: frozenset[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known = known_events | {"ping"}
        self._children: dict[tuple[str, str], Any] = {}
        self.deliveries = Counter(
            "autofix_webhook_deliveries",
            "Webhook deliveries by event and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.enqueue_seconds = Histogram(
            "autofix_webhook_enqueue_seconds",
            "Time for Redis to accept a delivery's jobs",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.stats = StatsCollector()
        self.registry.register(self.stats)

    def delivery(self, event: str, outcome: str) -> None:
        key = (event if event in self._known else OTHER_EVENT, outcome)
        child = self._children.get(key)
        if child is None:  # labels() costs a lock and a lookup: resolve each pair once
            child = self._children[key] = self.deliveries.labels(*key)
        child.inc()

    def render(self, snapshot: Snapshot | None = None) -> bytes:
        """The scrape's text; the worker's series from `snapshot` (none when Redis did not answer)."""
        self.stats.snapshot = snapshot  # no await between this and generate_latest: scrapes don't mix
        return generate_latest(self.registry)
