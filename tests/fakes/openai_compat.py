"""A fake OpenAI-compatible chat-completions server (what Ollama, vLLM and llama.cpp's server speak).

POST /v1/chat/completions, with an optional bearer key, answered from scripted turns: an assistant
message (content and/or tool_calls, arguments as a JSON string, possibly malformed) or an error status
with headers. Every request body is kept in `state.bodies`. Requests are checked the way those servers
check them: a model, a messages list, and every `tool` message answering a tool call of the assistant
message before it.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class ChatTurn:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 120, "completion_tokens": 30})


def call(name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": "call_" + secrets.token_hex(8),
        "type": "function",
        "function": {"name": name, "arguments": raw},
    }


@dataclass
class ChatState:
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder:7b"])
    api_key: str | None = None
    turns: deque[ChatTurn] = field(default_factory=deque)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *turns: ChatTurn) -> None:
        self.turns.extend(turns)


def problem(body: Any, models: list[str]) -> str | None:
    if not isinstance(body, dict) or body.get("model") not in models:
        return f"model {body.get('model') if isinstance(body, dict) else None!r} not found"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    open_calls: set[str] = set()
    for m in messages:
        if m.get("role") == "tool":
            if m.get("tool_call_id") not in open_calls:
                return f"tool message for unknown tool_call_id {m.get('tool_call_id')!r}"
            open_calls.discard(m["tool_call_id"])
        else:
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
    return None


async def chat(request: Request) -> JSONResponse:
    state: ChatState = request.app.state.chat
    if state.api_key is not None and request.headers.get("authorization") != f"Bearer {state.api_key}":
        return JSONResponse({"error": {"message": "invalid api key", "type": "invalid_request_error"}}, 401)
    body = json.loads(await request.body())
    state.bodies.append(body)
    if (said := problem(body, state.models)) is not None:
        status = 404 if said.startswith("model") else 400
        return JSONResponse({"error": {"message": said, "type": "invalid_request_error"}}, status)
    if not state.turns:
        return JSONResponse({"error": {"message": "fake: no scripted turn left"}}, 500)
    turn = state.turns.popleft()
    if turn.status != 200:
        return JSONResponse({"error": {"message": "scripted error"}}, turn.status, headers=turn.headers)
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = turn.tool_calls
    finish = "tool_calls" if turn.tool_calls else "stop"
    return JSONResponse(
        {
            "id": "chatcmpl-" + secrets.token_hex(6),
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": turn.usage | {"total_tokens": sum(v for v in turn.usage.values() if isinstance(v, int))},
        }
    )


def build_app(state: ChatState) -> Starlette:
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.chat = state
    return app
