"""Providers: the OpenAI-compatible one over a fake chat-completions server, fallback from one provider to
the next (before the first call and mid-attempt), and building the chain from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import SettingsError
from jobs.patch.agent import run_attempt
from jobs.patch.llm import AnthropicProvider, parse_spend_refusal
from jobs.patch.openai_compat import OpenAICompatProvider
from jobs.patch.provider import (
    ModelRequest,
    ProviderError,
    RateLimited,
    Rejected,
    SpendLimitReached,
    Unavailable,
)
from jobs.patch.providers import build_chain
from jobs.patch.tools import TOOLS, Workspace
from tests.fakes.anthropic_messages import (
    Turn,
    credit_too_low,
    error,
    reply,
    spend_cap_reached,
    tool_use,
    usage_limit_reached,
)
from tests.fakes.openai_compat import ChatTurn, call
from tests.github_support import Clock
from tests.patch_support import (
    BUGGY,
    DIAGNOSIS,
    FIXED,
    anthropic_provider,
    engine,
    first_message,
    make_repo,
    openai_provider,
    served_anthropic,
    served_openai,
)
from tests.support import free_port, make_settings

FIX = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}


async def test_the_openai_compatible_provider_runs_the_whole_loop(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_openai() as fake:
        fake.state.script(
            ChatTurn(tool_calls=[call("editor", "{not json")]),
            ChatTurn(content="Let me fix it.", tool_calls=[call("editor", FIX)]),
            ChatTurn(tool_calls=[call("submit_diagnosis", DIAGNOSIS)]),
        )
        async with engine(openai_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "submitted"
    assert FIXED in (repo / "calc/stats.py").read_text()
    second = fake.state.bodies[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool"]
    assert second[3]["content"].startswith("Error: the input to editor was not a JSON object: '{not json'")
    assert fake.state.bodies[0]["tools"][0]["function"]["name"] == "editor"
    assert result.usage.calls == 3
    assert result.usage.dollars == 0  # self-hosted
    assert result.usage.input_tokens == 360


async def test_an_unreachable_anthropic_falls_back_to_the_next_provider(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with served_openai() as fake:
        fake.state.script(
            ChatTurn(tool_calls=[call("editor", FIX)]),
            ChatTurn(tool_calls=[call("submit_diagnosis", DIAGNOSIS)]),
        )
        async with engine(anthropic_provider(nowhere), openai_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
            assert "anthropic unreachable" in eng.providers.down["anthropic"]
    assert result.ending.outcome == "submitted"
    assert len(fake.state.bodies) == 2


async def test_a_provider_failing_mid_attempt_hands_the_conversation_over(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as anthropic, served_openai() as openai:
        anthropic.state.script(
            reply(tool_use("editor", {"command": "view", "path": "calc/stats.py"})),
            error(500, "Internal server error"),
        )
        openai.state.script(
            ChatTurn(tool_calls=[call("editor", FIX)]),
            ChatTurn(tool_calls=[call("submit_diagnosis", DIAGNOSIS)]),
        )
        async with engine(anthropic_provider(anthropic.url), openai_provider(openai.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
            assert eng.models_used == {"anthropic:claude-sonnet-4-6", "openai-compat:qwen2.5-coder:7b"}
    assert result.ending.outcome == "submitted"
    handed = openai.state.bodies[0]["messages"]
    assert [m["role"] for m in handed] == ["system", "user", "assistant", "tool"]
    assert handed[2]["tool_calls"][0]["function"]["name"] == "editor"
    assert "return sum(values)" in handed[3]["content"]
    assert result.usage.calls == 3
    assert result.usage.dollars > 0  # the anthropic call is paid for, the local ones are not


async def test_a_refused_key_is_unavailable_and_with_no_other_provider_the_attempt_says_why(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        async with engine(anthropic_provider(fake.url, key="sk-ant-wrong")) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "model_error"
    assert result.ending.detail.startswith("no model provider available (anthropic: anthropic 401")
    assert fake.state.bodies == []


async def test_openai_compatible_rate_limits_are_waited_out(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    clock = Clock()
    with served_openai() as fake:
        fake.state.script(
            ChatTurn(status=429, headers={"retry-after": "2"}),
            ChatTurn(status=503, headers={"retry-after-ms": "1500"}),
            ChatTurn(tool_calls=[call("submit_diagnosis", DIAGNOSIS)]),
        )
        async with engine(openai_provider(fake.url), clock=clock) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert clock.slept == [2.0, 1.5]
    assert result.ending.outcome == "submitted"


def test_the_chain_follows_the_configured_order() -> None:
    settings = make_settings(
        autofix_providers="openai-compat,anthropic",
        anthropic_api_key="sk-ant-x",
        openai_compat_base_url="http://127.0.0.1:11434/v1",
        openai_compat_model="qwen2.5-coder:32b",
    )
    chain = build_chain(settings)
    assert [type(p) for p in chain.providers] == [OpenAICompatProvider, AnthropicProvider]
    assert [p.model for p in chain.providers] == ["qwen2.5-coder:32b", "claude-sonnet-4-6"]


def test_a_configured_provider_missing_its_settings_is_named() -> None:
    with pytest.raises(SettingsError, match="OPENAI_COMPAT_BASE_URL is not set"):
        build_chain(make_settings(autofix_providers="anthropic,openai-compat", anthropic_api_key="k"))
    with pytest.raises(ValueError, match="anthropic and/or openai-compat"):
        make_settings(autofix_providers="anthropic,gpt")


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "wait"),
    [
        (400, None, Rejected, None),
        (413, None, Rejected, None),
        (401, None, Unavailable, None),
        (403, None, Unavailable, None),
        (404, None, Unavailable, None),
        (500, None, Unavailable, None),
        (429, "11", RateLimited, 11.0),
        (529, "2", RateLimited, 2.0),
        (529, None, RateLimited, None),
    ],
)
async def test_each_anthropic_error_maps_to_one_provider_error(
    status: int, retry_after: str | None, kind: type[ProviderError], wait: float | None
) -> None:
    with served_anthropic() as fake:
        fake.state.script(error(status, f"scripted {status}", retry_after=retry_after))
        provider = anthropic_provider(fake.url)
        request = ModelRequest("system", TOOLS, [first_message()], 100)
        try:
            with pytest.raises(kind) as caught:
                await provider.complete(request)
        finally:
            await provider.aclose()
    assert f"anthropic {status}" in str(caught.value)
    assert f"scripted {status}" in str(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == wait
    assert len(fake.state.bodies) == 1  # never retried inside the SDK


@pytest.mark.parametrize(
    ("turn", "kind", "said"),
    [
        (spend_cap_reached(), SpendLimitReached, "the organisation's monthly spend cap for its API tier"),
        (usage_limit_reached(), SpendLimitReached, "the organisation's spend limit is reached"),
        (usage_limit_reached(workspace=True), SpendLimitReached, "the workspace's spend limit is reached"),
        (credit_too_low(), SpendLimitReached, "the organisation's credit balance is too low"),
        (error(402, "Payment required"), SpendLimitReached, "billing refused the request"),
        (  # another 429 with a code: a ramp limit is waited out
            error(429, "Ramp limit exceeded", retry_after="5", details={"error_code": "ramp_limit_exceeded"}),
            RateLimited,
            "anthropic 429 rate_limit_error: Ramp limit exceeded",
        ),
        (  # a plain 429 that only mentions a limit is still a rate limit
            error(
                429, "This request would exceed the rate limit for your organization of 30,000 input tokens"
            ),
            RateLimited,
            "anthropic 429 rate_limit_error",
        ),
    ],
    ids=["tier-cap-429", "spend-limit-400", "workspace-limit-400", "credit-400", "402", "ramp-429", "429"],
)
async def test_refusals_for_money_are_told_apart_from_rate_limits(
    turn: Turn, kind: type[ProviderError], said: str
) -> None:
    with served_anthropic() as fake:
        fake.state.script(turn)
        provider = anthropic_provider(fake.url)
        try:
            with pytest.raises(kind) as caught:
                await provider.complete(ModelRequest("system", TOOLS, [first_message()], 100))
        finally:
            await provider.aclose()
    assert said in str(caught.value)
    if kind is SpendLimitReached:
        assert str(caught.value).startswith("Anthropic refused: ")
        assert turn.message in str(caught.value)  # Anthropic's own words: when access comes back
    assert len(fake.state.bodies) == 1


@pytest.mark.parametrize(
    ("status", "error_type", "code", "message", "why"),
    [
        (
            429,
            "rate_limit_error",
            "contract_spend_limit_reached",
            "",
            "the organisation's contract spend limit",
        ),
        (429, "rate_limit_error", "ramp_limit_exceeded", "You have reached your API usage limits", None),
        (400, "invalid_request_error", None, "prompt is too long: 210000 tokens > 200000 maximum", None),
        (500, "api_error", None, "Your credit balance is too low", None),
    ],
)
def test_parse_spend_refusal(
    status: int, error_type: str, code: str | None, message: str, why: str | None
) -> None:
    found = parse_spend_refusal(status, error_type, code, message)
    assert (found is None) if why is None else (found is not None and found.startswith(why))


async def test_a_spend_limit_sets_anthropic_aside_and_another_provider_may_take_over(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as anthropic, served_openai() as openai:
        anthropic.state.script(credit_too_low(), reply(tool_use("editor", FIX)))
        openai.state.script(
            ChatTurn(tool_calls=[call("editor", FIX)]),
            ChatTurn(tool_calls=[call("submit_diagnosis", DIAGNOSIS)]),
        )
        async with engine(anthropic_provider(anthropic.url), openai_provider(openai.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
            assert eng.refused is not None
            assert eng.refused.startswith("Anthropic refused: the organisation's credit balance is too low")
    assert result.ending.outcome == "submitted"
    assert len(anthropic.state.bodies) == 1  # the credit is not asked for again
    assert len(openai.state.bodies) == 2
