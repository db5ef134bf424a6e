"""The seam between the model loop and a model provider: one request shape, one turn shape, four errors.

Messages are kept in the Anthropic Messages shape (role + content blocks: text, tool_use, tool_result)
whatever the provider; an adapter translates. By convention the first block of the first user message
is the repository context, the stable part that the Anthropic adapter marks for prompt caching.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobs.patch.context import Usage
from jobs.patch.pricing import Price


@dataclass(frozen=True)
class ModelRequest:
    system: str
    tools: list[dict[str, Any]]  # {"name", "description", "input_schema"}
    messages: list[dict[str, Any]]
    max_tokens: int


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any] | None  # None when the model's arguments were not a JSON object
    raw: str = ""  # the arguments as sent, when they could not be parsed


@dataclass(frozen=True)
class ModelTurn:
    content: list[dict[str, Any]]  # the assistant's blocks, to send back verbatim
    calls: list[ToolCall]
    stop_reason: str
    usage: Usage
    model: str
    request_id: str | None = None
    text: str = field(default="")


class ProviderError(Exception):
    """A model call that did not produce a turn; `str(e)` is one line for the attempt's record."""


class RateLimited(ProviderError):
    """429 or 529 (or 503 from an OpenAI-style server): wait `retry_after` seconds, then try again."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """Unreachable, refused our key, lacks the model, or failed on its side: try the next provider."""


class Rejected(ProviderError):
    """The provider refused the request itself (400): neither retrying nor another provider helps."""


class SpendLimitReached(ProviderError):
    """The provider refused for money: a spend limit reached, or no credit left. Retrying fails until a
    person raises the limit or adds credit (or the period turns), so the job makes no more calls to it;
    `str(e)` says what to do, for the maintainer who reads why the job ended."""


class Provider(Protocol):
    name: str
    model: str
    price: Price

    async def complete(self, request: ModelRequest) -> ModelTurn: ...

    async def aclose(self) -> None: ...


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date); None if absent."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
