"""An OpenAI-compatible provider: `POST {base}/chat/completions` with function tools (Ollama, vLLM,
llama.cpp's server, any gateway speaking that shape).

Requests and turns are translated from and to the Anthropic shape the loop keeps, so an attempt can move
to this provider mid-conversation when the first is unavailable. Self-hosted models cost nothing in
dollars (`FREE`); their tokens still count. No retries here either: the loop does them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from jobs.patch.context import Usage
from jobs.patch.pricing import FREE
from jobs.patch.provider import (
    ModelRequest,
    ModelTurn,
    RateLimited,
    Rejected,
    ToolCall,
    Unavailable,
    parse_retry_after,
)

STOP_REASONS = {"tool_calls": "tool_use", "stop": "end_turn", "length": "max_tokens"}


def _texts(blocks: list[dict[str, Any]]) -> str:
    return "\n\n".join(b["text"] for b in blocks if b["type"] == "text")


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    text = content if isinstance(content, str) else _texts(content)
    return f"Error: {text}" if block.get("is_error") and not text.startswith("Error") else text


def build_chat(model: str, request: ModelRequest) -> dict[str, Any]:
    """The chat-completions body for `request`. Pure."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
    for m in request.messages:
        blocks = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        if m["role"] == "user":
            for b in blocks:
                if b["type"] == "tool_result":
                    messages.append(
                        {"role": "tool", "tool_call_id": b["tool_use_id"], "content": _result_text(b)}
                    )
            if text := _texts(blocks):
                messages.append({"role": "user", "content": text})
            continue
        calls = [
            {
                "id": b["id"],
                "type": "function",
                "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
            }
            for b in blocks
            if b["type"] == "tool_use"
        ]
        messages.append(
            {"role": "assistant", "content": _texts(blocks) or None}
            | ({"tool_calls": calls} if calls else {})
        )
    tools = [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
        }
        for t in request.tools
    ]
    return {"model": model, "messages": messages, "tools": tools, "max_tokens": request.max_tokens}


def parse_chat(body: dict[str, Any], model: str) -> ModelTurn:
    """A turn from a chat-completions response; arguments that are not a JSON object give `input=None`."""
    choice = body["choices"][0]
    message = choice["message"]
    content: list[dict[str, Any]] = (
        [{"type": "text", "text": message["content"]}] if message.get("content") else []
    )
    calls: list[ToolCall] = []
    for call in message.get("tool_calls") or []:
        raw = call["function"].get("arguments") or ""
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            parsed = None
        given = parsed if isinstance(parsed, dict) else None
        content.append(
            {"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": given or {}}
        )
        calls.append(ToolCall(call["id"], call["function"]["name"], given, raw=str(raw)))
    u = body.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    usage = Usage(
        input_tokens=u.get("prompt_tokens", 0) - cached,
        output_tokens=u.get("completion_tokens", 0),
        cache_read_input_tokens=cached,
        calls=1,
    )
    stop = STOP_REASONS.get(choice.get("finish_reason") or "", "tool_use" if calls else "end_turn")
    text = message.get("content") or ""
    return ModelTurn(content, calls, stop, usage, body.get("model", model), body.get("id"), text)


class OpenAICompatProvider:
    name = "openai-compat"
    price = FREE

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None = None, timeout: float = 300.0
    ) -> None:
        self.model = model
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout
        )

    async def complete(self, request: ModelRequest) -> ModelTurn:
        try:
            response = await self._client.post("chat/completions", json=build_chat(self.model, request))
        except httpx.HTTPError as e:
            raise Unavailable(f"{self.name} unreachable: {e!r}") from None
        said = f"{self.name} {response.status_code}: {response.text[:200]}"
        wait = parse_retry_after(response.headers)
        if response.status_code == 429 or (response.status_code == 503 and wait is not None):
            raise RateLimited(said, wait)
        if response.status_code in (400, 413, 422):
            raise Rejected(said)
        if response.status_code != 200:
            raise Unavailable(said)
        try:
            return parse_chat(response.json(), self.model)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise Unavailable(
                f"{self.name} answered something that is not a chat completion: {e!r}"
            ) from None

    async def aclose(self) -> None:
        await self._client.aclose()
