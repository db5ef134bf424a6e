"""What the fix jobs need from outside, built once per worker from the settings (arq's on_startup)
and put in the job context as `ctx["deps"]`. Tests build their own `Deps` around the local GitHub,
the scripted model server and a sandbox of their choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.github.client import GitHubApp, Installation
from app.repo_config import RepoConfig
from app.settings import Settings
from jobs.patch.agent import Engine, build_engine
from jobs.sandbox.actions import ActionsSandbox
from jobs.sandbox.base import Limits as SandboxLimits
from jobs.sandbox.base import Sandbox
from jobs.sandbox.local import LocalSandbox


@dataclass
class Deps:
    settings: Settings
    redis: Redis
    github: GitHubApp
    sandbox: Callable[[Installation], Sandbox]
    engine: Callable[[RepoConfig], Engine]
    scratch: Path  # where workspaces and candidate copies live
    clock: Callable[[], float] = time.time


def build_sandbox(settings: Settings, redis: Redis) -> Callable[[Installation], Sandbox]:
    """The configured backend: a confined subprocess here, or the user's own Actions runners."""
    cache = settings.autofix_data_dir / "sandbox-cache"

    def make(inst: Installation) -> Sandbox:
        if settings.autofix_sandbox == "actions":
            workflow, poll = settings.autofix_sandbox_workflow, float(settings.autofix_sandbox_poll)
            return ActionsSandbox(inst, redis, workflow=workflow, poll_s=poll)
        return LocalSandbox(cache=cache, token=inst.token)

    return make


def sandbox_limits(settings: Settings, config: RepoConfig) -> SandboxLimits:
    timeout = min(float(settings.autofix_sandbox_timeout), 60.0 * int(config["limits.sandbox_minutes"]))
    return SandboxLimits(timeout, settings.autofix_sandbox_parallel, float(settings.autofix_sandbox_wait))


def build_deps(settings: Settings, redis: Redis, github: GitHubApp) -> Deps:
    scratch = settings.autofix_data_dir / "work"
    scratch.mkdir(parents=True, exist_ok=True)
    return Deps(
        settings=settings,
        redis=redis,
        github=github,
        sandbox=build_sandbox(settings, redis),
        engine=lambda config: build_engine(settings, config),
        scratch=scratch,
    )


def deps_of(ctx: dict[str, Any]) -> Deps:
    deps = ctx.get("deps")
    if not isinstance(deps, Deps):
        raise RuntimeError("the worker has no GitHub App configured: set GITHUB_APP_ID and its private key")
    return deps
