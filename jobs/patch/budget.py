"""Per-job budgets: steps per attempt, tokens and dollars per job, checked BEFORE each model call.

A call reserves its worst case (the estimated prompt, all of it written to the cache, plus every output
token it may produce) before it is made, and settles to the real usage when it returns. Attempts run
concurrently in one event loop, so reserving first keeps the sum of all attempts under the ceiling: a job
never spends more than its limits, and a refused call says which limit and by how much.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from app.repo_config import RepoConfig
from app.settings import Settings
from jobs.patch.context import Usage
from jobs.patch.pricing import Price, worst_case

CHARS_PER_TOKEN = 3  # deliberately low (code runs at ~3.5-4): estimates err towards refusing


@dataclass(frozen=True)
class Limits:
    max_steps: int  # model calls per attempt
    max_tokens: int  # per job: input, output, cache writes and cache reads
    max_dollars: float  # per job

    @classmethod
    def from_settings(cls, settings: Settings, config: RepoConfig | None = None) -> Limits:
        """The operator's limits, tightened (never loosened) by the repository's `.github/autofix.yml`."""
        limits = cls(settings.autofix_max_steps, settings.autofix_max_tokens, settings.autofix_max_dollars)
        if config is None:
            return limits
        steps = min(limits.max_steps, int(config["limits.steps_per_candidate"]))
        return cls(steps, limits.max_tokens, min(limits.max_dollars, float(config["limits.dollars_per_job"])))


@dataclass(frozen=True)
class Reservation:
    tokens: int
    dollars: float


def total_tokens(usage: Usage) -> int:
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens
    )


def estimate_tokens(payload: Any) -> int:
    """A conservative token count for a request payload (anything JSON-serialisable)."""
    return math.ceil(len(json.dumps(payload, ensure_ascii=False)) / CHARS_PER_TOKEN)


def decide_refusal(
    limits: Limits, *, steps: int, spent: Usage, held: Reservation, need: Reservation
) -> str | None:
    """Why the next call may not be made, or None when it may. Pure."""
    if steps >= limits.max_steps:
        return f"step limit reached: {steps} of {limits.max_steps} model calls made"
    tokens = total_tokens(spent) + held.tokens
    if tokens + need.tokens > limits.max_tokens:
        return (
            f"token budget: {tokens:,} of {limits.max_tokens:,} used or held, "
            f"the next call may need {need.tokens:,}"
        )
    dollars = spent.dollars + held.dollars
    if dollars + need.dollars > limits.max_dollars:
        return (
            f"dollar budget: ${dollars:.4f} of ${limits.max_dollars:.2f} used or held, "
            f"the next call may cost ${need.dollars:.4f}"
        )
    return None


@dataclass
class JobBudget:
    """The running totals of one job, shared by its attempts."""

    limits: Limits
    spent: Usage = field(default_factory=Usage)
    held: Reservation = Reservation(0, 0.0)

    def reserve(self, *, steps: int, price: Price, input_tokens: int, max_output: int) -> Reservation | str:
        """Hold the worst case of the next call, or say why it may not be made."""
        need = Reservation(input_tokens + max_output, worst_case(price, input_tokens, max_output))
        refusal = decide_refusal(self.limits, steps=steps, spent=self.spent, held=self.held, need=need)
        if refusal is not None:
            return refusal
        self.held = Reservation(self.held.tokens + need.tokens, self.held.dollars + need.dollars)
        return need

    def release(self, reservation: Reservation) -> None:
        held = self.held
        self.held = Reservation(
            held.tokens - reservation.tokens, max(0.0, held.dollars - reservation.dollars)
        )

    def settle(self, reservation: Reservation, actual: Usage) -> None:
        self.release(reservation)
        self.spent.add(actual)
