"""Prometheus metrics of the web side, in a registry per app (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import disable_created_metrics

# the *_created series only add noise to a scrape
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER_EVENT = "other"  # label for event names autofix does not know, so labels stay bounded
PR_OUTCOMES_KEY = (
    "autofix:stats:pr_outcomes"  # hash: merged | closed | reverted -> count (jobs/pr_outcome.py)
)


class WebMetrics:
    def __init__(self, known_events: frozenset[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known = known_events | {"ping"}
        self._children: dict[tuple[str, str], Counter] = {}
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
        self.queue_depth = Gauge(
            "autofix_queue_depth", "Jobs waiting or running in the arq queue", registry=self.registry
        )

        self.pr_outcomes = Gauge(
            "autofix_pr_outcomes",
            "Autofix pull requests by what became of them (merged, closed unmerged, merged then reverted)",
            ["outcome"],
            registry=self.registry,
        )

    def set_pr_outcomes(self, flat: list[bytes]) -> None:
        """From Redis HGETALL's flat [field, value, …] reply."""
        for field, value in zip(flat[::2], flat[1::2], strict=True):
            self.pr_outcomes.labels(field.decode()).set(int(value))

    def delivery(self, event: str, outcome: str) -> None:
        key = (event if event in self._known else OTHER_EVENT, outcome)
        child = self._children.get(key)
        if child is None:  # labels() costs a lock and a lookup: resolve each pair once
            child = self._children[key] = self.deliveries.labels(*key)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
