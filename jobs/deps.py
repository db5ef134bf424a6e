"""What the fix jobs need from outside, built once per worker from the settings (arq's on_startup)
and put in the job context as `ctx["deps"]`. Tests build their own `Deps` around the local GitHub,
the scripted model server and a sandbox of their choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.budgets import InstallationBudget, build_installation_budget
from app.github.client import GitHubApp, Installation
from app.repo_config import RepoConfig
from app.settings import Settings
from app.telemetry import model_call_recorder
from jobs.patch.agent import Engine, build_engine
from jobs.sandbox.base import Limits as SandboxLimits
from jobs.sandbox.base import Sandbox
from jobs.sandbox.factory import build_limits, build_sandbox
from sandbox_runner.patchguard import DEFAULT_FORBIDDEN, GuardPolicy


@dataclass
class Deps:
    settings: Settings
    redis: Redis
    github: GitHubApp
    sandbox: Callable[[Installation], Sandbox]
    engine: Callable[[RepoConfig], Engine]
    scratch: Path  # where workspaces and candidate copies live
    clock: Callable[[], float] = time.time


def sandbox_factory(settings: Settings, redis: Redis) -> Callable[[Installation], Sandbox]:
    """The configured backend (jobs/sandbox/factory.py), built per job for its installation."""
    return lambda inst: build_sandbox(settings, inst, redis)


def sandbox_limits(settings: Settings, config: RepoConfig) -> SandboxLimits:
    """The operator's sandbox limits, with the run timeout lowered by the repository's config."""
    limits = build_limits(settings)
    return replace(limits, timeout_s=min(limits.timeout_s, 60.0 * int(config["limits.sandbox_minutes"])))


def guard_policy(config: RepoConfig) -> GuardPolicy:
    """What a candidate may touch: never the built-in forbidden paths, nor the repository's own."""
    return GuardPolicy(
        forbidden=(*DEFAULT_FORBIDDEN, *config["paths.forbidden"]), allowed=tuple(config["paths.allowed"])
    )


def job_engine(
    deps: Deps, config: RepoConfig, job_id: str, installation_id: int, daily: InstallationBudget | None = None
) -> Engine:
    """A job's model engine: its calls recorded (artefacts, cost stats) and each reserved on the
    installation's day (K3; `daily` when the job already holds its share, as a check job does)."""
    engine = deps.engine(config)
    engine.on_call = model_call_recorder(deps.redis, job_id)
    engine.shared = daily or build_installation_budget(
        deps.settings, deps.redis, installation_id, job_id, deps.clock
    )
    return engine


def build_deps(settings: Settings, redis: Redis, github: GitHubApp) -> Deps:
    scratch = (settings.autofix_data_dir / "work").resolve()  # git runs in other directories
    scratch.mkdir(parents=True, exist_ok=True)
    return Deps(
        settings=settings,
        redis=redis,
        github=github,
        sandbox=sandbox_factory(settings, redis),
        engine=lambda config: build_engine(settings, config),
        scratch=scratch,
    )


def deps_of(ctx: dict[str, Any]) -> Deps:
    deps = ctx.get("deps")
    if not isinstance(deps, Deps):
        raise RuntimeError("the worker has no GitHub App configured: set GITHUB_APP_ID and its private key")
    return deps
