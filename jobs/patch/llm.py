"""The Anthropic adapter: a `Provider` over the Messages API with tool use and prompt caching.

Retries: the SDK's own retries are switched off (`max_retries=0`) and the model loop retries instead,
honouring `retry-after` / `retry-after-ms` on 429 and 529 and checking the budget before every try. Two
retry layers would multiply (each of ours times each of the SDK's) and the SDK's waits would happen
outside the budget's sight.

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
    RateLimited,
    Rejected,
    ToolCall,
    Unavailable,
    parse_retry_after,
)

EPHEMERAL = {"type": "ephemeral"}
TIMEOUT = 300.0  # seconds per call; an explicit timeout also lets a large max_tokens run unstreamed


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]


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
        except (anthropic.RateLimitError, anthropic.OverloadedError) as e:
            wait = parse_retry_after(e.response.headers)
            raise RateLimited(f"anthropic {e.status_code} {e.type or ''}: {e.api_message}", wait) from None
        except anthropic.APIStatusError as e:
            said = f"anthropic {e.status_code} {e.type or ''}: {e.api_message}"
            if e.status_code in (400, 413, 422):
                raise Rejected(said) from None
            raise Unavailable(said) from None
        except anthropic.APIConnectionError as e:
            raise Unavailable(f"anthropic unreachable: {e}") from None
        return parse_message(message, self.price)

    async def aclose(self) -> None:
        await self._client.close()
