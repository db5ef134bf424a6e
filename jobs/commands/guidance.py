"""What commands hand to the fix jobs: the maintainer's words, and the thread's raised budget.

The fix jobs call these pure functions on their request; a job that no command started gets no
guidance and unchanged gate facts, and its config raised only by a `/autofix budget` on its thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.repo_config import RepoConfig
from jobs.gate import GateFacts

MAX_GUIDANCE_CHARS = 4000


def render_guidance(request: dict[str, Any]) -> str | None:
    """The maintainer's words for the model, marked as theirs, or None."""
    text = str(request.get("guidance") or "").strip()
    if not text:
        return None
    who = str(request.get("requested_by") or "a maintainer")
    return f"Guidance from the maintainer {who}, in their words:\n{text[:MAX_GUIDANCE_CHARS]}"


def with_thread_budget(
    config: RepoConfig, request: dict[str, Any], stored: float | None = None
) -> RepoConfig:
    """`config` with the per-attempt dollar cap a maintainer raised with `/autofix budget`: the one
    the thread holds now (`stored`, see `control.fetch_raised_cap`) or the one a command put in the
    request, whichever is higher; a cap is only ever raised here, never lowered."""
    caps = [c for c in (request.get("dollars_per_job"), stored) if isinstance(c, int | float)]
    raised = max(caps, default=None)
    if raised is None or raised <= config["limits.dollars_per_job"]:
        return config
    return replace(config, values=config.values | {"limits.dollars_per_job": float(raised)})


def for_command(facts: GateFacts, request: dict[str, Any]) -> GateFacts:
    """The gate's facts for an attempt a command started on a bot PR (`retry`, `revise`): that PR
    covering the fingerprint is what the attempt is meant to update, not a reason to skip; a revise
    builds on that PR's head, so newer commits on the failing branch do not make it moot either;
    every other check, budgets included, still applies."""
    target = request.get("update_pr")
    if isinstance(target, int) and facts.open_bot_pr_for_fingerprint == target:
        facts = replace(facts, open_bot_pr_for_fingerprint=None)
    if isinstance(request.get("revise"), dict):
        facts = replace(facts, newer_commit_on_branch=False)
    return facts
