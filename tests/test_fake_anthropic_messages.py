"""The fake Messages API answers the real SDK as api.anthropic.com would: validation errors in the API's
shape, scripted turns and errors with retry-after, and simulated prompt caching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from tests.fakes.anthropic_messages import error, reply, text, tool_use
from tests.patch_support import KEY, MODEL, served_anthropic

EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
async def client_and_state() -> AsyncIterator[tuple[anthropic.AsyncAnthropic, Any]]:
    with served_anthropic() as fake:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=fake.url, max_retries=0, timeout=10)
        try:
            yield client, fake.state
        finally:
            await client.close()


async def test_a_scripted_turn_comes_back_as_a_message(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any],
) -> None:
    client, state = client_and_state
    state.script(
        reply(text("Looking."), tool_use("editor", {"command": "view", "path": "a.py"}, id="toolu_01x"))
    )
    message = await client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.usage.input_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    assert message._request_id is not None
    assert message._request_id.startswith("req_011C")
    assert state.bodies == [
        {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    ]


@pytest.mark.parametrize(
    ("messages", "said"),
    [
        ([{"role": "assistant", "content": "x"}], 'first message must use the "user" role'),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "roles must alternate"),
        ([{"role": "user", "content": ""}], "text content blocks must be non-empty"),
        (
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}],
                },
                {"role": "user", "content": "b"},
            ],
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}],
                },
            ],
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_9",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"b{n}", "cache_control": EPHEMERAL} for n in range(5)
                    ],
                }
            ],
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
    ],
)
async def test_malformed_requests_are_refused_as_the_api_refuses_them(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any], messages: list[Any], said: str
) -> None:
    client, state = client_and_state
    state.script(reply(text("never sent")))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=10, messages=messages)
    assert said in caught.value.api_message
    assert caught.value.type == "invalid_request_error"
    assert caught.value.request_id is not None


async def test_unknown_model_and_scripted_errors(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any],
) -> None:
    client, state = client_and_state
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.create(
            model="claude-nope", max_tokens=10, messages=[{"role": "user", "content": "a"}]
        )
    state.script(error(429, "rate limited", retry_after="5"), error(529, "Overloaded"))
    with pytest.raises(anthropic.RateLimitError) as limited:
        await client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "a"}])
    assert limited.value.response.headers["retry-after"] == "5"
    assert limited.value.type == "rate_limit_error"
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        await client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "a"}])
    assert overloaded.value.type == "overloaded_error"


async def test_prompt_caching_reads_what_an_earlier_call_wrote(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any],
) -> None:
    client, state = client_and_state
    state.script(reply(text("one")), reply(text("two")), reply(text("three")))
    system: Any = [{"type": "text", "text": "You fix bugs. " * 200, "cache_control": EPHEMERAL}]
    first = await client.messages.create(
        model=MODEL, max_tokens=10, system=system, messages=[{"role": "user", "content": "a"}]
    )
    second = await client.messages.create(
        model=MODEL, max_tokens=10, system=system, messages=[{"role": "user", "content": "b"}]
    )
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    other: Any = [{"type": "text", "text": "You review code. " * 200, "cache_control": EPHEMERAL}]
    third = await client.messages.create(
        model=MODEL, max_tokens=10, system=other, messages=[{"role": "user", "content": "b"}]
    )
    assert third.usage.cache_read_input_tokens == 0


async def test_scripts_can_be_chosen_by_the_first_message(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any],
) -> None:
    client, state = client_and_state
    state.script(reply(text("for the caller")), when="caller")
    state.script(reply(text("for anyone")))
    plain = await client.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    caller = await client.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "caller"}]
    )
    assert [plain.content[0].text, caller.content[0].text] == ["for anyone", "for the caller"]  # type: ignore[union-attr]


async def test_a_moved_breakpoint_still_reads_the_earlier_prefix(
    client_and_state: tuple[anthropic.AsyncAnthropic, Any],
) -> None:
    client, state = client_and_state
    state.script(reply(text("one")), reply(text("two")))
    long = "context " * 400
    turn1: Any = [{"role": "user", "content": [{"type": "text", "text": long, "cache_control": EPHEMERAL}]}]
    first = await client.messages.create(model=MODEL, max_tokens=10, messages=turn1)
    turn2: Any = [
        {"role": "user", "content": [{"type": "text", "text": long}]},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": EPHEMERAL}]},
    ]
    second = await client.messages.create(model=MODEL, max_tokens=10, messages=turn2)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert 0 < second.usage.cache_creation_input_tokens < first.usage.cache_creation_input_tokens
