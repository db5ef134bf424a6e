"""What a model call costs: a per-model price table in dollars per million tokens, and the cost of a Usage.

Prices as published on anthropic.com/pricing (checked 2026-11); cache writes are the 5-minute TTL price
(1.25x input), cache reads 0.1x input. A model missing from the table is priced as the dearest model of
its family (opus, sonnet, haiku), or the dearest of all, so an unknown id can only overstate the cost and
the dollar budget stays a real ceiling. Self-hosted OpenAI-compatible models cost nothing in dollars;
their tokens still count against the token budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.patch.context import Usage

PER = 1_000_000


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


def _claude(input_price: float, output_price: float) -> Price:
    return Price(input_price, output_price, round(input_price * 1.25, 4), round(input_price * 0.1, 4))


PRICES: dict[str, Price] = {
    "claude-opus-4-0": _claude(15, 75),
    "claude-opus-4-1": _claude(15, 75),
    "claude-opus-4-5": _claude(5, 25),
    "claude-opus-4-6": _claude(5, 25),
    "claude-sonnet-4-0": _claude(3, 15),
    "claude-sonnet-4-5": _claude(3, 15),
    "claude-sonnet-4-6": _claude(3, 15),
    "claude-haiku-4-5": _claude(1, 5),
    "claude-3-5-haiku": _claude(0.8, 4),
}
FREE = Price(0, 0, 0, 0)
FAMILIES = ("opus", "sonnet", "haiku")


def price_for(model: str) -> Price:
    """The table's price for `model` (a dated id like claude-haiku-4-5-20251001 matches its alias)."""
    for name in sorted(PRICES, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            return PRICES[name]
    family = next((f for f in FAMILIES if f in model), "")
    same = [p for name, p in PRICES.items() if family and family in name]
    return max(same or PRICES.values(), key=lambda p: (p.output, p.input))


def cost(price: Price, usage: Usage) -> float:
    """Dollars for `usage` at `price`."""
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
    ) / PER


def worst_case(price: Price, input_tokens: int, max_output_tokens: int) -> float:
    """The most a call can cost: every input token written to the cache, every output token used."""
    in_price = max(price.input, price.cache_write)
    return (input_tokens * in_price + max_output_tokens * price.output) / PER
