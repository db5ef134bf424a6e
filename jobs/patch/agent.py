"""The model loop of one attempt: a pure core that yields what it needs next, and a driver.

`converse` decides: it keeps the conversation, asks for a model turn (`NeedModel`) or for tool results
(`NeedTools`), nudges a reply without tool calls (twice, then the attempt ends `no_submission`), and ends
`submitted` only when `submit_diagnosis` was called with valid input. It does no I/O, so a test, the
worker and the local CLI drive the same core.

`run_attempt` drives it: before every model call it reserves the call's worst case on the job budget
(steps, tokens, dollars), and on the installation's day when the job set one (`engine.shared`,
app/budgets.py), and ends the attempt `budget_exhausted` when refused; it waits out 429/529 as
`retry-after` says (each retry is checked against the budget again), moves to the next provider when one
is unavailable, and runs tools in the attempt's own workspace. A refusal for money (SpendLimitReached: a
spend limit or an empty credit balance) is never retried: the engine keeps it, no attempt of the job
calls that provider again, and with no other provider left each attempt ends `spend_limit` saying why.
Each answered call is also handed to the engine's `on_call` hook, when the job set one (the job's
artefacts and the stats, app/telemetry.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.budgets import Hold, InstallationBudget, Refused, render_installation_cap
from app.repo_config import RepoConfig
from app.settings import Settings
from jobs.patch.budget import JobBudget, Limits, Reservation, estimate_tokens
from jobs.patch.context import Candidate, Diagnosis, Usage
from jobs.patch.prompts import render
from jobs.patch.provider import (
    ModelRequest,
    ModelTurn,
    Provider,
    RateLimited,
    Rejected,
    SpendLimitReached,
    ToolCall,
    Unavailable,
)
from jobs.patch.providers import ProviderChain, build_chain
from jobs.patch.tools import TOOLS, ToolResult, Workspace, run_tool

log = logging.getLogger("autofix.patch")
MAX_OUTPUT = 8192  # tokens per model call
MAX_NUDGES = 2
MAX_RATE_LIMITED = 4  # rate-limited tries of one call before the attempt gives up
MAX_WAIT = 120.0  # the longest retry-after waited out in-process; longer ends the attempt

ModelCallHook = Callable[[dict[str, Any]], Awaitable[None]]  # told of each answered call (fields below)


@dataclass(frozen=True)
class NeedModel:
    messages: list[dict[str, Any]]
    step: int  # model calls made so far in this attempt


@dataclass(frozen=True)
class NeedTools:
    calls: list[ToolCall]


@dataclass(frozen=True)
class Stop:
    """The driver could not get a turn: budget refused, provider errors."""

    outcome: str
    detail: str


@dataclass(frozen=True)
class Ending:
    outcome: str  # submitted | no_submission | budget_exhausted | spend_limit | model_error
    detail: str
    steps: int
    diagnosis: Diagnosis | None = None


Need = NeedModel | NeedTools
Answer = ModelTurn | Stop | list[ToolResult]


def _tool_results(calls: list[ToolCall], results: list[ToolResult]) -> list[dict[str, Any]]:
    return [
        {"type": "tool_result", "tool_use_id": c.id, "content": r.text or "(empty)", "is_error": r.is_error}
        for c, r in zip(calls, results, strict=True)
    ]


def converse(first: dict[str, Any]) -> Generator[Need, Answer, Ending]:
    """The loop's decisions, from the first user turn to an Ending."""
    messages, steps, nudges = [first], 0, 0
    while True:
        answer = yield NeedModel(list(messages), steps)
        if isinstance(answer, Stop):
            return Ending(answer.outcome, answer.detail, steps)
        assert isinstance(answer, ModelTurn)
        steps += 1
        messages.append({"role": "assistant", "content": answer.content or [{"type": "text", "text": "…"}]})
        if not answer.calls:
            nudges += 1
            if nudges > MAX_NUDGES:
                return Ending("no_submission", f"{nudges} replies without a tool call", steps)
            messages.append({"role": "user", "content": [{"type": "text", "text": render("nudge")}]})
            continue
        results = yield NeedTools(answer.calls)
        assert isinstance(results, list)
        messages.append({"role": "user", "content": _tool_results(answer.calls, results)})
        diagnosis = next((r.diagnosis for r in results if r.diagnosis is not None), None)
        if diagnosis is not None:
            return Ending("submitted", "diagnosis submitted", steps, diagnosis)


@dataclass
class Engine:
    """What attempts share within a job."""

    providers: ProviderChain
    budget: JobBudget
    system: str
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_output: int = MAX_OUTPUT
    models_used: set[str] = field(default_factory=set)
    on_call: ModelCallHook | None = None  # set by the job: where each call is recorded
    attempts: int = 0  # attempts started, so each call can say which attempt made it
    refused: str | None = None  # a provider refused for money (SpendLimitReached): why, for the job's end
    shared: InstallationBudget | None = None  # the installation's day, set by the job when capped
    over_budget: Refused | None = None  # the installation's day refused a call

    async def aclose(self) -> None:
        """Close the providers' HTTP clients; the job does this when its engine is done."""
        await self.providers.aclose()


def build_engine(
    settings: Settings, config: RepoConfig | None = None, *, on_call: ModelCallHook | None = None
) -> Engine:
    """The engine of one job: providers in fallback order, the job's budget, the system prompt."""
    budget = JobBudget(Limits.from_settings(settings, config))
    return Engine(build_chain(settings), budget, render("system"), on_call=on_call)


@dataclass
class AttemptResult:
    ending: Ending
    usage: Usage


def backoff(tries: int) -> float:
    return float(min(30, 2 ** (tries - 1)))


def _call_record(provider: str, turn: ModelTurn) -> dict[str, Any]:
    u = turn.usage
    return {
        "provider": provider,
        "model": turn.model,
        "request_id": turn.request_id,
        "stop_reason": turn.stop_reason,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "dollars": round(u.dollars, 6),
    }


def model_call(provider: str, turn: ModelTurn, *, at: float, seconds: float, attempt: int) -> dict[str, Any]:
    """One answered call as the job's artefacts keep it (app/artefacts.py). Pure."""
    u = turn.usage
    return {
        "at": round(at, 3),
        "model": turn.model,
        "provider": provider,
        "attempt": attempt,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_input_tokens,
        "cache_write_tokens": u.cache_creation_input_tokens,
        "dollars": round(u.dollars, 6),
        "seconds": round(seconds, 3),
        "stop_reason": turn.stop_reason,
    }


async def _tell(engine: Engine, call: dict[str, Any]) -> None:
    """Hand `call` to the job's hook. Recording is not the fix: a failing hook is logged, not raised."""
    if engine.on_call is None:
        return
    try:
        await engine.on_call(call)
    except Exception:  # Redis down, say: the attempt goes on, the log says what was lost
        log.warning("model call not recorded", exc_info=True, extra={"model": call.get("model")})


async def _reserve(
    engine: Engine, provider: Provider, request: ModelRequest, step: int
) -> tuple[Reservation, Hold | None] | str:
    """Hold the call's worst case on the job's budget, then on the installation's day; or say why not."""
    size = estimate_tokens([request.system, request.tools, request.messages])
    held = engine.budget.reserve(
        steps=step, price=provider.price, input_tokens=size, max_output=request.max_tokens
    )
    if isinstance(held, str):
        return held
    if engine.shared is None or held.dollars <= 0:  # a free (self-hosted) model spends no one's dollars
        return held, None
    shared = await engine.shared.reserve(held.dollars)
    if isinstance(shared, Refused):
        engine.budget.release(held)
        engine.over_budget = shared
        return (
            f"installation budget: ${shared.spent:.4f} of ${shared.cap:.2f} spent or held today by this "
            f"installation's jobs, the next call may cost ${shared.need:.4f}"
        )
    return held, shared


async def _let_go(
    engine: Engine, held: Reservation, shared: Hold | None, actual: Usage | None = None
) -> None:
    """Settle the holds to what the call cost, or release them when it was not answered."""
    if actual is None:
        engine.budget.release(held)
    else:
        engine.budget.settle(held, actual)
    if shared is not None and engine.shared is not None:
        await engine.shared.settle(shared, actual.dollars if actual is not None else 0.0)


async def call_model(engine: Engine, need: NeedModel, usage: Usage, *, attempt: int = 0) -> ModelTurn | Stop:
    """One model turn for `need`, within budget, through rate limits and provider fallback."""
    limited = 0
    while (provider := engine.providers.current()) is not None:
        request = ModelRequest(engine.system, TOOLS, need.messages, engine.max_output)
        reserved = await _reserve(engine, provider, request, need.step)
        if isinstance(reserved, str):
            return Stop("budget_exhausted", reserved)
        held, shared = reserved
        started, began = time.time(), time.monotonic()
        try:
            turn = await provider.complete(request)
        except RateLimited as e:
            await _let_go(engine, held, shared)
            limited += 1
            wait = e.retry_after if e.retry_after is not None else backoff(limited)
            if limited >= MAX_RATE_LIMITED or wait > MAX_WAIT:
                return Stop("model_error", f"{e} (gave up after {limited} tries, asked to wait {wait:.0f}s)")
            await engine.sleep(wait)
            continue
        except Unavailable as e:
            await _let_go(engine, held, shared)
            engine.providers.mark_down(provider, str(e))
            continue
        except Rejected as e:
            await _let_go(engine, held, shared)
            return Stop("model_error", str(e))
        except SpendLimitReached as e:  # never retried: set aside for the job, as its reason if none is left
            await _let_go(engine, held, shared)
            engine.refused = engine.refused or str(e)
            engine.providers.mark_down(provider, str(e))
            continue
        await _let_go(engine, held, shared, turn.usage)
        usage.add(turn.usage)
        log.info("model call", extra=_call_record(provider.name, turn))
        engine.models_used.add(f"{provider.name}:{turn.model}")
        seconds = time.monotonic() - began
        await _tell(engine, model_call(provider.name, turn, at=started, seconds=seconds, attempt=attempt))
        return turn
    if engine.refused is not None:
        return Stop("spend_limit", engine.refused)
    return Stop("model_error", f"no model provider available ({engine.providers.why_none()})")


def decide_job_stop(engine: Engine, candidates: Sequence[Candidate]) -> tuple[str, str] | None:
    """How a job ends when its model calls were refused and no candidate came of it: the spend limit
    (a person must raise it), or the installation's daily cap (skipped, as the gate says). Pure."""
    if any(c.outcome == "submitted" for c in candidates):
        return None  # something was proposed: it is judged and published as usual
    if engine.refused is not None:
        return "spend_limit", engine.refused
    if engine.over_budget is not None:
        return "skipped", render_installation_cap(engine.over_budget.spent, engine.over_budget.cap)
    return None


async def run_attempt(
    engine: Engine,
    workspace: Workspace,
    first: dict[str, Any],
    on_first_call: Callable[[], None] | None = None,
) -> AttemptResult:
    """Drive `converse` to its Ending with real model calls and tools."""
    usage = Usage()
    engine.attempts += 1
    attempt = engine.attempts
    core = converse(first)
    need = next(core)
    try:
        while True:
            if isinstance(need, NeedModel):
                answer: Answer = await call_model(engine, need, usage, attempt=attempt)
                if on_first_call is not None:
                    on_first_call()
                    on_first_call = None
            else:
                answer = [run_tool(workspace, call) for call in need.calls]
            need = core.send(answer)
    except StopIteration as done:
        return AttemptResult(done.value, usage)
    finally:
        if on_first_call is not None:
            on_first_call()
