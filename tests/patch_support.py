"""Shared doubles for the patch engine's tests: a small buggy repository, the fake model servers served
live, and an Engine wired to them."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from jobs.patch.agent import Engine
from jobs.patch.budget import JobBudget, Limits
from jobs.patch.context import CodeLocation, Context
from jobs.patch.llm import AnthropicProvider
from jobs.patch.openai_compat import OpenAICompatProvider
from jobs.patch.prompts import Task, build_first_message, render
from jobs.patch.provider import Provider
from jobs.patch.providers import ProviderChain
from sandbox_runner.report import FailureReport
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import openai_compat as fake_openai
from tests.fakes.anthropic_messages import reply, tool_use
from tests.github_support import Clock
from tests.support import LiveServer

KEY = "sk-ant-api03-test-key-0123456789abcdef"
MODEL = "claude-sonnet-4-6"
STATS = "def mean(values):\n    return sum(values) / (len(values) + 1)\n"
TEST = "from calc.stats import mean\n\n\ndef test_mean():\n    assert mean([1, 2, 3]) == 2\n"
BUGGY = "    return sum(values) / (len(values) + 1)"
FIXED = "    return sum(values) / len(values)"
ROOMY = Limits(max_steps=30, max_tokens=10_000_000, max_dollars=100.0)
S = TypeVar("S")


@dataclass
class Served(Generic[S]):
    state: S
    url: str


@contextmanager
def served_anthropic() -> Iterator[Served[fake_anthropic.AnthropicState]]:
    state = fake_anthropic.AnthropicState(api_keys={KEY})
    with LiveServer(fake_anthropic.build_app(state)) as server:
        yield Served(state, server.url)


@contextmanager
def served_openai() -> Iterator[Served[fake_openai.ChatState]]:
    state = fake_openai.ChatState()
    with LiveServer(fake_openai.build_app(state)) as server:
        yield Served(state, server.url + "/v1")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with a bug in calc/stats.py that tests/test_stats.py finds."""
    files = {"calc/__init__.py": "", "calc/stats.py": STATS, "tests/test_stats.py": TEST} | (files or {})
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    return root


def context() -> Context:
    where = CodeLocation("calc/stats.py", "mean", 1, 2, 3.0, ["innermost project frame"])
    return Context(
        locations=[where],
        outline={"calc/stats.py": ["def mean(values):"]},
        snippets={"calc/stats.py:1-2": "1\tdef mean(values):\n2\t    return sum(values) / (len(values) + 1)"},
        tokens=60,
        budget=6000,
    )


def report(**overrides: Any) -> FailureReport:
    values: dict[str, Any] = {
        "source": {"kind": "log"},
        "failure_class": "test_failure",
        "fixable": True,
        "failing_tests": ["tests/test_stats.py::test_mean"],
        "exception_type": "AssertionError",
        "message": "assert 1.5 == 2",
        "excerpt": "E       assert 1.5 == 2",
        "reproduction_command": "pytest tests/test_stats.py",
    }
    return FailureReport(**(values | overrides))


def first_message(task: Task | None = None, strategy: str = "innermost") -> dict[str, Any]:
    return build_first_message(context(), task or Task(report=report()), strategy)


def anthropic_provider(url: str, key: str = KEY, model: str = MODEL) -> AnthropicProvider:
    return AnthropicProvider(api_key=key, base_url=url, model=model, timeout=20)


def openai_provider(url: str, model: str = "qwen2.5-coder:7b") -> OpenAICompatProvider:
    return OpenAICompatProvider(base_url=url, model=model, timeout=20)


@asynccontextmanager
async def engine(
    *providers: Provider, limits: Limits = ROOMY, clock: Clock | None = None, max_output: int = 1024
) -> AsyncIterator[Engine]:
    """An Engine over `providers`, closed on exit."""
    eng = Engine(
        providers=ProviderChain(list(providers)),
        budget=JobBudget(limits),
        system=render("system"),
        sleep=(clock or Clock()).sleep,
        max_output=max_output,
    )
    try:
        yield eng
    finally:
        await eng.aclose()


def fix_script(path: str = "calc/stats.py") -> list[Any]:
    """A model that looks, fixes the off-by-one, and submits."""
    return [
        reply(tool_use("editor", {"command": "view", "path": path})),
        reply(
            tool_use("editor", {"command": "str_replace", "path": path, "old_str": BUGGY, "new_str": FIXED})
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    ]


DIAGNOSIS = {
    "root_cause": "mean divides by len(values) + 1",
    "where": "calc/stats.py:2",
    "why_fix_is_right": "the mean is the sum over the count",
    "not_covered": "empty input still raises ZeroDivisionError",
}


def model_turn(body: dict[str, Any]) -> Any:
    """A stateless scripted model: edit `mean()` until this conversation has an edit, then submit
    the diagnosis (every attempt sees the same model, whatever a killed run consumed)."""
    edited = any(
        block.get("type") == "tool_use" and block.get("name") == "editor"
        for message in body["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
    )
    if edited:
        return reply(tool_use("submit_diagnosis", DIAGNOSIS))
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    return reply(tool_use("editor", edit))
