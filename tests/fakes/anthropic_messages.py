"""POST /v1/messages for the fake Anthropic API: validation as the real API does it, scripted turns, and
prompt caching simulated from the request's `cache_control` breakpoints.

A test scripts the turns the "model" gives (`AnthropicState.script(...)`): content blocks (text,
tool_use), errors with `retry-after`, or a function of the request. The usage of a turn is computed, not
scripted, unless the test says otherwise: tokens are a quarter of the JSON characters, and a prefix up to
a breakpoint seen before is read from the cache while a new one is written to it, the way the API bills.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import string
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK = 20  # blocks before a breakpoint where the API still finds an earlier cache entry
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_ALPHABET = string.ascii_letters + string.digits


class InvalidRequest(Exception):
    """A 400 `invalid_request_error` (or `status` when given) with the API's wording."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Turn:
    """One scripted answer: content blocks, or an error (`status` >= 400) with optional headers."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # None: tool_use when there is a tool_use block, else end_turn
    usage: dict[str, int] | None = None  # None: computed
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str | None = None  # None: the API's type for `status`
    details: dict[str, Any] | None = None  # `error.details`, e.g. {"error_code": "..."}


Scripted = Turn | Callable[[dict[str, Any]], Turn]


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, input: Any, id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": id or new_id("toolu_01"), "name": name, "input": input}


def reply(
    *blocks: dict[str, Any], usage: dict[str, int] | None = None, stop_reason: str | None = None
) -> Turn:
    return Turn(list(blocks), stop_reason, usage)


def error(
    status: int,
    message: str,
    retry_after: str | None = None,
    *,
    error_type: str | None = None,
    details: dict[str, Any] | None = None,
) -> Turn:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Turn(status=status, message=message, headers=headers, error_type=error_type, details=details)


# Refusals for money, as the API gives them. The API tier's monthly cap: a 429 `rate_limit_error` with
# `error.details.error_code` and no `retry-after` (access comes back on the 1st of next month, 00:00 UTC).
# A spend limit set in the Console, or an empty credit balance: a 400 `invalid_request_error` and no code.
TIER_SPEND_CAP = (
    "You have reached your API usage limits: your organization has crossed its monthly API usage "
    "threshold, set based on your organization's API tier. You will regain access on {resume} at 00:00 UTC."
)
SPECIFIED_LIMIT = (
    "You have reached your specified {scope}API usage limits. "
    "You will regain access on {resume} at 00:00 UTC."
)
CREDIT_TOO_LOW = (
    "Your credit balance is too low to access the Anthropic API. "
    "Please go to Plans & Billing to upgrade or purchase credits."
)


def spend_cap_reached(resume: str = "2026-12-01") -> Turn:
    return error(
        429, TIER_SPEND_CAP.format(resume=resume), details={"error_code": "enforced_spend_limit_reached"}
    )


def usage_limit_reached(resume: str = "2026-12-01", *, workspace: bool = False) -> Turn:
    scope = "workspace " if workspace else ""
    return error(400, SPECIFIED_LIMIT.format(scope=scope, resume=resume))


def credit_too_low() -> Turn:
    return error(400, CREDIT_TOO_LOW)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise InvalidRequest(f"{where}: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content or not all(isinstance(b, dict) for b in content):
        raise InvalidRequest(f"{where}.content: Input should be a non-empty list of content blocks")
    return content


def _check_block(block: dict[str, Any], role: str, where: str) -> None:
    kind = block.get("type")
    allowed = {
        "user": ("text", "tool_result", "image", "document"),
        "assistant": ("text", "tool_use", "thinking"),
    }
    if kind not in allowed[role]:
        raise InvalidRequest(f"{where}.type: {kind!r} blocks are not allowed in {role} messages")
    if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
        raise InvalidRequest(f"{where}: text content blocks must be non-empty")
    if kind == "tool_use" and not (isinstance(block.get("id"), str) and isinstance(block.get("input"), dict)):
        raise InvalidRequest(f"{where}: tool_use blocks need an id and an object input")
    if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
        raise InvalidRequest(f"{where}.tool_use_id: Field required")


def validate(body: Any, models: list[str]) -> None:
    """Raise InvalidRequest as the API does for a malformed Messages request."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: Input should be an object")
    if not isinstance(body.get("model"), str):
        raise InvalidRequest("model: Field required")
    if body["model"] not in models:
        raise InvalidRequest(f"model: {body['model']}", status=404)
    tokens = body.get("max_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
        raise InvalidRequest("max_tokens: Field required and must be a positive integer")
    _check_tools(body.get("tools", []))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    previous_tool_uses: set[str] = set()
    for n, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{n}.role: Input should be 'user' or 'assistant'")
        if n == 0 and role != "user":
            raise InvalidRequest('messages: first message must use the "user" role')
        if n > 0 and messages[n - 1]["role"] == role:
            raise InvalidRequest(
                f'messages: roles must alternate between "user" and "assistant" (messages.{n})'
            )
        blocks = _blocks(m["content"], f"messages.{n}")
        for i, b in enumerate(blocks):
            _check_block(b, role, f"messages.{n}.content.{i}")
        _check_pairing(n, blocks, previous_tool_uses)
        previous_tool_uses = {b["id"] for b in blocks if b["type"] == "tool_use"}
    if previous_tool_uses:
        missing = ", ".join(sorted(previous_tool_uses))
        raise InvalidRequest(f"messages: tool_use ids were found without tool_result blocks: {missing}")
    found = json.dumps(body).count('"cache_control"')
    if found > MAX_BREAKPOINTS:
        raise InvalidRequest(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {found}."
        )


def _check_tools(tools: Any) -> None:
    if not isinstance(tools, list):
        raise InvalidRequest("tools: Input should be a valid list")
    names = [t.get("name") if isinstance(t, dict) else None for t in tools]
    for i, (tool, name) in enumerate(zip(tools, names, strict=True)):
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise InvalidRequest(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise InvalidRequest(f"tools.{i}.input_schema: must be a JSON schema of type object")
    if len(set(names)) != len(names):
        raise InvalidRequest("tools: Tool names must be unique.")


def _check_pairing(n: int, blocks: list[dict[str, Any]], expected: set[str]) -> None:
    results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
    missing = expected - set(results)
    if missing:
        raise InvalidRequest(
            f"messages.{n}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(sorted(missing))}. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message."
        )
    unexpected = set(results) - expected
    if unexpected:
        raise InvalidRequest(
            f"messages.{n}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
            f"{', '.join(sorted(unexpected))}. Each `tool_result` block must have a corresponding `tool_use` "
            "block in the previous message."
        )
    kinds = [b["type"] for b in blocks]
    if results and kinds[: len(results)] != ["tool_result"] * len(results):
        raise InvalidRequest(f"messages.{n}: tool_result blocks must come first in the message content")


def tokens_of(value: Any) -> int:
    return math.ceil(len(json.dumps(value, sort_keys=True)) / 4)


def _segments(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The prompt in cache order (tools, system, message blocks), each with whether it is a breakpoint."""
    system = body.get("system", [])
    system_blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    blocks = list(body.get("tools", [])) + system_blocks
    for m in body["messages"]:
        blocks += [{"role": m["role"]} | b for b in _blocks(m["content"], "")]
    return [({k: v for k, v in b.items() if k != "cache_control"}, "cache_control" in b) for b in blocks]


def simulate_usage(body: dict[str, Any], cache: set[str], min_cacheable: int) -> dict[str, int]:
    """Input, cache-write and cache-read tokens for `body`, updating `cache` with its prefixes.

    As the API does: a breakpoint writes the prefix up to it; a read is the longest cached prefix that
    ends at a breakpoint or at one of the LOOKBACK blocks before it."""
    segments = _segments(body)
    digest = hashlib.sha256(body["model"].encode())
    keys: list[str] = []
    totals: list[int] = []
    for segment, _ in segments:
        digest.update(json.dumps(segment, sort_keys=True).encode())
        keys.append(digest.hexdigest())
        totals.append((totals[-1] if totals else 0) + tokens_of(segment))
    read, written_to = 0, 0
    for n, (_, breakpoint) in enumerate(segments):
        if not breakpoint or totals[n] < min_cacheable:
            continue
        hits = [totals[i] for i in range(max(0, n - LOOKBACK), n + 1) if keys[i] in cache]
        read = max([read, *hits])
        written_to = totals[n]
    for n, (_, breakpoint) in enumerate(segments):
        if breakpoint and totals[n] >= min_cacheable:
            cache.add(keys[n])
    created = max(0, written_to - read)
    total = totals[-1] if totals else 0
    return {
        "input_tokens": total - read - created,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
    }


@dataclass
class Script:
    """Queues of scripted turns; a queue is chosen by a text that appears in the request's first message."""

    queues: dict[str, deque[Scripted]] = field(default_factory=dict)

    def add(self, when: str, turns: tuple[Scripted, ...]) -> None:
        self.queues.setdefault(when, deque()).extend(turns)

    def next_for(self, body: dict[str, Any]) -> Turn | None:
        first = json.dumps(body["messages"][0])
        for when, queue in self.queues.items():
            if queue and (not when or when in first):
                item = queue.popleft()
                return item(body) if callable(item) else item
        return None


def message_body(body: dict[str, Any], turn: Turn, usage: dict[str, int]) -> dict[str, Any]:
    stop = turn.stop_reason or (
        "tool_use" if any(b["type"] == "tool_use" for b in turn.content) else "end_turn"
    )
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": turn.content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage | {"output_tokens": tokens_of(turn.content)},
    }
