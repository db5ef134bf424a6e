"""The Anthropic adapter: a `Provider` over the Messages API with tool use and prompt caching.

Retries: the SDK's own retries are switched off (`max_retries=0`) and the model loop retries instead,
honouring `retry-after` / `retry-after-ms` on 429 and 529 and checking the budget before every try. Two
retry layers would multiply (each of ours times each of the SDK's) and the SDK's waits would happen
outside the budget's sight. A refusal for money is not a rate limit, though it may come as a 429: the
tier's monthly cap is a 429 `rate_limit_error` with `error.details.error_code`
`enforced_spend_limit_reached` and no `retry-after`; a spend limit set in the Console, or an empty credit
balance, is a 400 `invalid_request_error` known only by its message. Those become SpendLimitReached,
which is never retried (`parse_spend_refusal`).

Caching: four breakpoints, the most the API accepts: the last tool (caches all tools), the system
prompt, the repository context (the first block of the first user turn, identical across attempts), and
the newest user block, so each step re-reads the conversation so far from the cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
from anthropic.types import Message

from jobs.patch.context import Usage
from jobs.patch.pricing import Price, cost, price_for
from jobs.patch.provider import (
    ModelRequest,
    ModelTurn,
    ProviderError,
    RateLimited,
    Rejected,
    SpendLimitReached,
    ToolCall,
    Unavailable,
    parse_retry_after,
)

EPHEMERAL = {"type": "ephemeral"}
TIMEOUT = 300.0  # seconds per call; an explicit timeout also lets a large max_tokens run unstreamed


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]


# error.details.error_code of a refusal for money (the SDK's typed errors name the same codes)
SPEND_CODES = {
    "enforced_spend_limit_reached": "the organisation's monthly spend cap for its API tier is reached",
    "contract_spend_limit_reached": "the organisation's contract spend limit is reached",
    "linked_organization_spend_limit_reached": "the linked organisation's spend limit is reached",
    "linked_organization_billing_unavailable": "the linked organisation's billing is unavailable",
}
# the refusals that carry no code, known by their message (lower case; the API's wording may change)
SPEND_MESSAGES = (
    ("you have reached your specified workspace api usage limits", "the workspace's spend limit is reached"),
    ("you have reached your specified api usage limits", "the organisation's spend limit is reached"),
    ("you have reached your api usage limits", "the organisation's spend limit is reached"),
    ("credit balance is too low", "the organisation's credit balance is too low"),
)
SPEND_ACTION = (
    "Raise the spend limit or add credit in the Claude Console (Settings: Limits, Billing), or wait "
    "for the date Anthropic names; no more Anthropic calls were made for this job."
)


def parse_spend_refusal(
    status: int, error_type: str | None, code: str | None, message: str | None
) -> str | None:
    """Why Anthropic refused, when an error is a refusal for money (spend limit, credit); else None. Pure."""
    if code in SPEND_CODES:
        return SPEND_CODES[code]
    if status == 402 or error_type == "billing_error":
        return "billing refused the request"
    if status in (400, 429) and code is None:
        said = (message or "").lower()
        return next((why for needle, why in SPEND_MESSAGES if needle in said), None)
    return None


def provider_error(error: anthropic.APIStatusError) -> ProviderError:
    """The provider error for an error answer: spend refusals first (some are 429s), then by status."""
    said = f"anthropic {error.status_code} {error.type or ''}: {error.api_message}"
    why = parse_spend_refusal(error.status_code, error.type, error.error_code, error.api_message)
    if why is not None:
        code = f" {error.error_code}" if error.error_code else ""
        return SpendLimitReached(
            f"Anthropic refused: {why} ({error.status_code} {error.type or ''}{code}: {error.api_message}). "
            + SPEND_ACTION
        )
    if isinstance(error, anthropic.RateLimitError | anthropic.OverloadedError):
        return RateLimited(said, parse_retry_after(error.response.headers))
    if error.status_code in (400, 413, 422):
        return Rejected(said)
    return Unavailable(said)


def build_params(model: str, request: ModelRequest) -> dict[str, Any]:
    """The `messages.create` arguments for `request`, with cache breakpoints placed. Pure."""
    tools = [dict(t) for t in request.tools]
    if tools:
        tools[-1]["cache_control"] = EPHEMERAL
    messages = [{"role": m["role"], "content": _blocks(m["content"])} for m in request.messages]
    if messages and messages[0]["role"] == "user":
        messages[0]["content"][0]["cache_control"] = EPHEMERAL
    if messages and messages[-1]["content"]:
        messages[-1]["content"][-1]["cache_control"] = EPHEMERAL  # a no-op when it is the context
    return {
        "model": model,
        "max_tokens": request.max_tokens,
        "system": [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}],
        "tools": tools,
        "messages": messages,
    }


def parse_message(message: Message, price: Price) -> ModelTurn:
    """A provider-neutral turn from the API's message, priced."""
    content: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            given = block.input if isinstance(block.input, dict) else None
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": given or {}})
            calls.append(ToolCall(block.id, block.name, given, raw=str(block.input)))
    u = message.usage
    usage = Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
        cache_read_input_tokens=u.cache_read_input_tokens or 0,
        calls=1,
    )
    usage.dollars = cost(price, usage)
    text = "".join(b["text"] for b in content if b["type"] == "text")
    stop = message.stop_reason or "end_turn"
    return ModelTurn(content, calls, stop, usage, message.model, message._request_id, text)


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str, model: str, timeout: float = TIMEOUT) -> None:
        self.model = model
        self.price = price_for(model)
        self.timeout = timeout  # also the deadline of a whole call: the SDK's timeout is per read
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def complete(self, request: ModelRequest) -> ModelTurn:
        try:
            create = self._client.messages.create(**build_params(self.model, request))
            message = await asyncio.wait_for(create, self.timeout)  # C10: a trickling answer ends too
        except TimeoutError:
            raise Unavailable(
                f"anthropic answered too slowly: no whole answer in {self.timeout:.0f}s"
            ) from None
        except anthropic.APIStatusError as e:
            raise provider_error(e) from None
        except anthropic.APIConnectionError as e:
            raise Unavailable(f"anthropic unreachable: {e}") from None
        return parse_message(message, self.price)

    async def aclose(self) -> None:
        await self._client.close()
