"""A worker killed with SIGKILL in any phase: the retried job converges on exactly one PR, one commit on
the bot branch, one sticky status comment, one link comment and one Autofix check run.

The job runs in a child process (a fresh interpreter, as a worker host would run it) that is killed
with SIGKILL as soon as its job record shows the phase under test running; nothing of its own
clean-up runs. The retry then runs the same job id in this process, as arq re-runs a job whose worker
died. The model is a stateless scripted responder (edit, then submit), so every attempt sees the same
model whatever the killed run consumed.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.job_records import KEY
from app.settings import Settings
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.patch.agent import build_engine
from jobs.publish.status import CHECK_NAME
from jobs.sandbox.local import LocalSandbox
from tests.fakes.github import gitstore
from tests.patch_support import Served, model_turn
from tests.pipeline_support import broken_pr
from tests.support import LocalGitHub

PHASES = ["evidence", "gate", "reproduce", "workspace", "propose", "validate", "publish"]
SETTINGS = (
    "github_app_id", "github_private_key", "github_webhook_secret", "github_api_url", "anthropic_api_key",
    "anthropic_base_url", "autofix_data_dir",
)  # fmt: skip


def _child(values: dict[str, Any], redis_url: str, request: dict[str, Any], job_id: str, cache: str) -> None:
    async def main() -> None:
        from app.github.client import GitHubApp

        settings = Settings(_env_file=None, **values)
        redis = Redis.from_url(redis_url)
        deps = Deps(
            settings,
            redis,
            GitHubApp(settings, redis),
            lambda inst: LocalSandbox(cache=Path(cache), token=inst.token),
            lambda config: build_engine(settings, config),
            (settings.autofix_data_dir / "work").resolve(),
        )
        await fix_check_run({"deps": deps, "job_id": job_id}, request)

    asyncio.run(main())


async def wait_for_phase(redis: Redis, job_id: str, phase: str, proc: Any) -> bool:
    """True once the job record shows `phase` running (False if the child ended first)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.is_alive():
        raw = await redis.get(KEY.format(job_id=job_id))
        if raw:
            phases = json.loads(raw)["phases"]
            if any(p["name"] == phase for p in phases):
                return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.heavy
@pytest.mark.parametrize("phase", PHASES)
async def test_a_sigkill_in_any_phase_converges_on_one_of_everything(
    phase: str, gh: LocalGitHub, deps: Deps, model: Served[Any], redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    repo, broken, sha, request = broken_pr(gh, tmp_path)
    model.state.script(*[model_turn] * 40)
    job_id = f"check:{repo.id}:{sha}:tests"
    values = {k: getattr(deps.settings, k) for k in SETTINGS}
    values = {k: v.get_secret_value() if hasattr(v, "get_secret_value") else v for k, v in values.items()}
    child = multiprocessing.get_context("spawn").Process(
        target=_child, args=(values, redis_url, request, job_id, str(tmp_path / "cache"))
    )
    child.start()
    try:
        reached = await wait_for_phase(redis, job_id, phase, child)
        assert reached, f"the job never reached {phase}"
        os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        child.join(30)

    result = await fix_check_run({"deps": deps, "job_id": job_id}, request)  # arq's retry

    assert result["outcome"] == "pr_opened", result
    fixes = [i for i in repo.issues.values() if i.pull is not None and i.number != broken.number]
    assert len(fixes) == 1, "exactly one PR"
    branch = fixes[0].pull.head_ref if fixes[0].pull else ""
    assert gitstore.count_commits(repo.path, sha, gitstore.rev_parse(repo.path, f"refs/heads/{branch}")) == 1
    on_broken = [c.body for c in gh.state.comments.values() if c.issue_number == broken.number]
    assert sum(b.startswith("**Autofix") for b in on_broken) == 1, "one sticky status comment"
    assert sum(f"in #{fixes[0].number}" in b for b in on_broken) == 1, "one link comment"
    checks = [c for c in gh.state.check_runs.values() if c.name == CHECK_NAME and c.head_sha == sha]
    assert len(checks) == 1, "one Autofix check run"
