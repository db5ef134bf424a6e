"""The model loop end to end against the fake Anthropic API served over HTTP: submission, usage and
caching, every budget limit stopping before the call, rate limits, malformed tool input, no submission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.patch.agent import run_attempt
from jobs.patch.budget import Limits, estimate_tokens, total_tokens
from jobs.patch.pricing import cost, price_for, worst_case
from jobs.patch.tools import TOOLS, Workspace
from tests.fakes.anthropic_messages import error, reply, spend_cap_reached, text, tool_use
from tests.github_support import Clock
from tests.patch_support import (
    DIAGNOSIS,
    FIXED,
    MODEL,
    anthropic_provider,
    engine,
    first_message,
    fix_script,
    make_repo,
    served_anthropic,
)


def _results(body: dict[str, object]) -> list[dict[str, object]]:
    last = body["messages"][-1]  # type: ignore[index]
    return [b for b in last["content"] if b["type"] == "tool_result"]


async def test_the_loop_fixes_the_bug_and_ends_only_on_submission(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "submitted"
    assert result.ending.diagnosis is not None
    assert result.ending.diagnosis.root_cause == DIAGNOSIS["root_cause"]
    assert result.ending.steps == 3
    assert FIXED in (repo / "calc/stats.py").read_text()
    bodies = fake.state.bodies
    assert len(bodies) == 3
    viewed = _results(bodies[1])[0]
    assert "     2\t    return sum(values) / (len(values) + 1)" in str(viewed["content"])
    assert _results(bodies[2])[0]["content"] == "edited calc/stats.py at line 2"
    assert [b["model"] for b in bodies] == [MODEL] * 3


async def test_usage_and_dollars_are_recorded_per_call_and_the_stable_parts_are_cached(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    usage = result.usage
    assert usage.calls == 3
    assert usage.cache_creation_input_tokens > 0
    assert usage.cache_read_input_tokens > 0  # calls 2 and 3 re-read tools, system, context, history
    assert usage.dollars == pytest.approx(cost(price_for(MODEL), usage))
    assert eng.budget.spent == usage
    for body in fake.state.bodies:
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
        assert "Repository context" in body["messages"][0]["content"][0]["text"]
        assert [t["name"] for t in body["tools"]] == [t["name"] for t in TOOLS]
    # byte-identical stable prefix on every call, so the cache is hit
    prefixes = {
        json.dumps([b["tools"], b["system"], b["messages"][0]["content"][0]]) for b in fake.state.bodies
    }
    assert len(prefixes) == 1


async def test_step_limit_stops_before_the_call(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    view = tool_use("editor", {"command": "view", "path": "calc/stats.py"})
    with served_anthropic() as fake:
        fake.state.script(*[reply({**view, "id": f"toolu_{n}"}) for n in range(5)])
        async with engine(anthropic_provider(fake.url), limits=Limits(2, 10_000_000, 100.0)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "budget_exhausted"
    assert result.ending.detail == "step limit reached: 2 of 2 model calls made"
    assert len(fake.state.bodies) == 2


def _first_call_size() -> int:
    message = first_message()
    from jobs.patch.prompts import render

    return estimate_tokens([render("system"), TOOLS, [message]])


async def test_token_budget_refuses_the_call_that_could_exceed_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    first = _first_call_size() + 1024  # exactly the first call's worst case
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(
            anthropic_provider(fake.url), limits=Limits(30, first, 100.0), max_output=1024
        ) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert len(fake.state.bodies) == 1
    assert result.ending.outcome == "budget_exhausted"
    assert result.ending.detail.startswith("token budget: ")
    assert total_tokens(eng.budget.spent) <= first
    assert eng.budget.held.tokens == 0


async def test_token_budget_too_small_for_any_call_sends_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url), limits=Limits(30, 500, 100.0)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert fake.state.bodies == []
    assert result.ending.outcome == "budget_exhausted"
    assert result.ending.steps == 0


async def test_dollar_budget_refuses_the_call_that_could_exceed_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    dollars = worst_case(price_for(MODEL), _first_call_size(), 1024)
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(
            anthropic_provider(fake.url), limits=Limits(30, 10_000_000, dollars), max_output=1024
        ) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert len(fake.state.bodies) == 1
    assert result.ending.outcome == "budget_exhausted"
    assert result.ending.detail.startswith("dollar budget: ")
    assert eng.budget.spent.dollars <= dollars


async def test_429_and_529_are_waited_out_as_retry_after_says(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    clock = Clock()
    with served_anthropic() as fake:
        fake.state.script(
            error(429, "Number of request tokens has exceeded your per-minute rate limit", retry_after="7"),
            error(529, "Overloaded", retry_after="3"),
            error(529, "Overloaded"),
            *fix_script(),
        )
        async with engine(anthropic_provider(fake.url), clock=clock) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "submitted"
    assert clock.slept == [7.0, 3.0, 4.0]  # the third had no retry-after: backoff 1, 2, 4 s by try
    assert len(fake.state.bodies) == 6  # the SDK made no retries of its own
    assert result.usage.calls == 3


async def test_a_wait_longer_than_the_loop_will_sit_through_ends_the_attempt(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    clock = Clock()
    with served_anthropic() as fake:
        fake.state.script(error(429, "rate limited", retry_after="900"))
        async with engine(anthropic_provider(fake.url), clock=clock) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "model_error"
    assert "429" in result.ending.detail
    assert "900s" in result.ending.detail
    assert clock.slept == []
    assert len(fake.state.bodies) == 1


async def test_malformed_tool_input_gets_an_error_result_and_the_loop_goes_on(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(
            reply(tool_use("editor", {"path": "calc/stats.py"})),
            reply(tool_use("editor", {"command": "view", "path": 7})),
            reply(tool_use("editor", {"command": "str_replace", "path": "calc/stats.py"})),
            reply(tool_use("no_such_tool", {})),
            reply(tool_use("submit_diagnosis", {"root_cause": "x"})),
            *fix_script(),
        )
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    errors = [_results(b)[0] for b in fake.state.bodies[1:6]]
    assert all(e["is_error"] for e in errors)
    assert [e["content"] for e in errors] == [
        "Error: editor: missing required field 'command'",
        "Error: editor: path must be string",
        "Error: editor: str_replace needs 'old_str'",
        "Error: unknown tool 'no_such_tool'; the tools are editor, search, submit_diagnosis",
        "Error: submit_diagnosis: missing required field 'where'",
    ]
    assert result.ending.outcome == "submitted"
    assert result.ending.steps == 8


async def test_replies_without_tool_calls_are_nudged_then_end_without_submission(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(
            reply(text("The bug is in mean(). Fixed!")), reply(text("Done.")), reply(text("Really done."))
        )
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "no_submission"
    assert result.ending.diagnosis is None
    assert len(fake.state.bodies) == 3
    nudge = fake.state.bodies[1]["messages"][-1]["content"][0]["text"]
    assert "call `submit_diagnosis`" in nudge


async def test_a_rejected_request_ends_the_attempt_without_retrying(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with served_anthropic() as fake:
        fake.state.script(error(400, "prompt is too long: 210000 tokens > 200000 maximum"))
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    assert result.ending.outcome == "model_error"
    assert "prompt is too long" in result.ending.detail
    assert len(fake.state.bodies) == 1
    assert eng.budget.held.tokens == 0


async def test_a_spend_limit_ends_every_attempt_of_the_job_without_another_call(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    clock = Clock()
    with served_anthropic() as fake:
        fake.state.script(spend_cap_reached("2026-12-01"), *fix_script())  # a retry would get the fix
        async with engine(anthropic_provider(fake.url), clock=clock) as eng:
            first = await run_attempt(eng, Workspace(repo), first_message())
            second = await run_attempt(eng, Workspace(repo), first_message())  # the job's next attempt
            assert eng.budget.held.dollars == 0
    for result in (first, second):
        assert result.ending.outcome == "spend_limit"
        assert result.ending.detail.startswith(
            "Anthropic refused: the organisation's monthly spend cap for its API tier is reached "
            "(429 rate_limit_error enforced_spend_limit_reached: You have reached your API usage limits"
        )
        assert "You will regain access on 2026-12-01 at 00:00 UTC." in result.ending.detail
        assert "Raise the spend limit or add credit in the Claude Console" in result.ending.detail
        assert result.usage.calls == 0
    assert clock.slept == []  # not waited out as a rate limit
    assert len(fake.state.bodies) == 1  # not retried, by the SDK or by the loop


async def test_each_call_is_logged_with_its_request_id_tokens_and_dollars(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo(tmp_path)
    caplog.set_level("INFO", logger="autofix.patch")
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        async with engine(anthropic_provider(fake.url)) as eng:
            result = await run_attempt(eng, Workspace(repo), first_message())
    calls = [r for r in caplog.records if r.getMessage() == "model call"]
    assert len(calls) == 3
    assert all(r.request_id.startswith("req_011C") for r in calls)  # type: ignore[attr-defined]
    assert [r.stop_reason for r in calls] == ["tool_use"] * 3  # type: ignore[attr-defined]
    logged = sum(r.cache_read_input_tokens for r in calls)  # type: ignore[attr-defined]
    assert logged == result.usage.cache_read_input_tokens
