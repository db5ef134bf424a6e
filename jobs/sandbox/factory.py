"""The sandbox the settings ask for, built where a job starts (never at import), its runs counted."""

from __future__ import annotations

from redis.asyncio import Redis

from app.github.client import Installation
from app.settings import Settings
from jobs.sandbox.actions import ActionsSandbox
from jobs.sandbox.base import Limits, Sandbox
from jobs.sandbox.counted import CountedSandbox
from jobs.sandbox.local import LocalSandbox

CACHE_DIR = "sandbox-cache"  # under AUTOFIX_DATA_DIR: set-up environments by dependency-file hash


def build_limits(settings: Settings) -> Limits:
    return Limits(
        timeout_s=float(settings.autofix_sandbox_timeout),
        parallel=settings.autofix_sandbox_parallel,
        wait_s=float(settings.autofix_sandbox_wait),
    )


def build_sandbox(settings: Settings, inst: Installation, redis: Redis) -> Sandbox:
    """AUTOFIX_SANDBOX=actions: the user's runners; local: this host (clones with the installation token)."""
    if settings.autofix_sandbox == "actions":
        actions = ActionsSandbox(
            inst,
            redis,
            workflow=settings.autofix_sandbox_workflow,
            poll_s=float(settings.autofix_sandbox_poll),
        )
        return CountedSandbox(actions, redis, "actions")
    cache = settings.autofix_data_dir / CACHE_DIR
    local = LocalSandbox(cache=cache, token=inst.token, api_url=settings.github_api_url)
    return CountedSandbox(local, redis, "local")
