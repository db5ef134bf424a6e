"""Prices and budgets, pure: what a call costs, and which call the budget refuses before it is made."""

from __future__ import annotations

import pytest

from jobs.patch.budget import JobBudget, Limits, Reservation, decide_refusal, estimate_tokens
from jobs.patch.context import Usage
from jobs.patch.pricing import FREE, PRICES, Price, cost, price_for, worst_case

SONNET = PRICES["claude-sonnet-4-6"]


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("claude-sonnet-4-6", Price(3, 15, 3.75, 0.3)),
        ("claude-haiku-4-5-20251001", Price(1, 5, 1.25, 0.1)),
        ("claude-opus-4-5-20251101", Price(5, 25, 6.25, 0.5)),
        ("claude-opus-4-1", Price(15, 75, 18.75, 1.5)),
        ("claude-opus-5", Price(15, 75, 18.75, 1.5)),  # unknown opus: the dearest opus
        ("claude-sonnet-5-5", Price(3, 15, 3.75, 0.3)),
        ("claude-mythos-5", Price(15, 75, 18.75, 1.5)),  # unknown family: the dearest of all
    ],
)
def test_price_for_a_model(model: str, price: Price) -> None:
    assert price_for(model) == price


def test_cost_prices_each_kind_of_token() -> None:
    usage = Usage(
        input_tokens=1_000,
        output_tokens=2_000,
        cache_creation_input_tokens=10_000,
        cache_read_input_tokens=100_000,
    )
    assert cost(SONNET, usage) == pytest.approx(
        (1_000 * 3 + 2_000 * 15 + 10_000 * 3.75 + 100_000 * 0.3) / 1e6
    )
    assert cost(FREE, usage) == 0
    assert worst_case(SONNET, 1_000, 500) == pytest.approx((1_000 * 3.75 + 500 * 15) / 1e6)


LIMITS = Limits(max_steps=5, max_tokens=10_000, max_dollars=0.10)
NONE = Reservation(0, 0.0)


@pytest.mark.parametrize(
    ("steps", "spent", "held", "need", "refusal"),
    [
        (0, Usage(), NONE, Reservation(9_000, 0.05), None),
        (5, Usage(), NONE, Reservation(1, 0.0), "step limit reached: 5 of 5 model calls made"),
        (
            1,
            Usage(input_tokens=4_000, cache_read_input_tokens=2_000),
            Reservation(3_000, 0.0),
            Reservation(1_001, 0.0),
            "token budget: 9,000 of 10,000 used or held, the next call may need 1,001",
        ),
        (1, Usage(input_tokens=4_000), Reservation(3_000, 0.0), Reservation(3_000, 0.0), None),
        (
            1,
            Usage(dollars=0.06),
            Reservation(0, 0.03),
            Reservation(10, 0.0101),
            "dollar budget: $0.0900 of $0.10 used or held, the next call may cost $0.0101",
        ),
    ],
)
def test_decide_refusal(
    steps: int, spent: Usage, held: Reservation, need: Reservation, refusal: str | None
) -> None:
    assert decide_refusal(LIMITS, steps=steps, spent=spent, held=held, need=need) == refusal


def test_concurrent_attempts_cannot_jointly_overspend() -> None:
    budget = JobBudget(Limits(max_steps=30, max_tokens=30_000, max_dollars=100.0))
    first = budget.reserve(steps=0, price=SONNET, input_tokens=10_000, max_output=4_000)
    second = budget.reserve(steps=0, price=SONNET, input_tokens=10_000, max_output=4_000)
    third = budget.reserve(steps=0, price=SONNET, input_tokens=10_000, max_output=4_000)
    assert isinstance(first, Reservation)
    assert isinstance(second, Reservation)
    assert third == "token budget: 28,000 of 30,000 used or held, the next call may need 14,000"
    budget.settle(first, Usage(input_tokens=9_000, output_tokens=100, dollars=0.03))
    budget.release(second)
    assert budget.held == Reservation(0, 0.0)
    assert budget.spent.input_tokens == 9_000
    assert isinstance(
        budget.reserve(steps=0, price=SONNET, input_tokens=10_000, max_output=4_000), Reservation
    )


def test_token_estimates_err_high() -> None:
    code = "def mean(values):\n    return sum(values) / len(values)\n" * 50
    assert estimate_tokens(code) >= len(code) / 3.5


def test_limits_come_from_the_settings() -> None:
    from tests.support import make_settings

    settings = make_settings(autofix_max_steps=12, autofix_max_tokens=50_000, autofix_max_dollars=0.5)
    assert Limits.from_settings(settings) == Limits(12, 50_000, 0.5)
    assert Limits.from_settings(make_settings()) == Limits(30, 2_000_000, 3.0)


def test_the_repository_config_can_only_tighten_the_limits() -> None:
    from app.repo_config import parse_repo_config
    from tests.support import make_settings

    settings = make_settings(autofix_max_steps=20, autofix_max_dollars=1.0)
    tight = parse_repo_config("limits:\n  steps_per_candidate: 8\n  dollars_per_job: 0.25\n")
    loose = parse_repo_config("limits:\n  steps_per_candidate: 100\n  dollars_per_job: 9\n")
    assert Limits.from_settings(settings, tight) == Limits(8, 2_000_000, 0.25)
    assert Limits.from_settings(settings, loose) == Limits(20, 2_000_000, 1.0)
    assert Limits.from_settings(settings, parse_repo_config(None)) == Limits(20, 2_000_000, 1.0)
