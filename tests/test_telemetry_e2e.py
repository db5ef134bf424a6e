"""fix_check_run end to end (the local GitHub, the scripted model server, the real LocalSandbox, a real
Redis), then what it left in the stats, the job's model calls, and /metrics: every count is the one
the run produced, read back from the fakes' own logs."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from app import stats
from app.artefacts import JobArtefacts
from app.repo_config import RepoConfig
from app.telemetry import model_call_recorder
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.patch.agent import Engine, build_engine
from jobs.sandbox.counted import CountedSandbox
from jobs.sandbox.local import LocalSandbox
from tests.patch_support import MODEL, Served
from tests.pipeline_support import FILES, failing_check
from tests.support import LocalGitHub
from tests.test_fix_check_e2e import fix_script


def counted(deps: Deps, job_id: str, cache: Path) -> Deps:
    """The pipeline's Deps as the worker wires them: sandbox runs counted, model calls recorded."""

    def engine(config: RepoConfig) -> Engine:
        return build_engine(deps.settings, config, on_call=model_call_recorder(deps.redis, job_id))

    def sandbox(inst: Any) -> CountedSandbox:
        return CountedSandbox(LocalSandbox(cache=cache, token=inst.token), deps.redis, "local")

    return replace(deps, engine=engine, sandbox=sandbox)


async def test_a_proven_pr_is_counted_and_shown_on_metrics(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path, redis: Redis, client: httpx.AsyncClient
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    model.state.script(*fix_script())
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"
    started = time.time()
    api_before = sum(r.headers.get("user-agent") == "autofix" for r in gh.state.requests)

    result = await fix_check_run(
        {"deps": counted(deps, job_id, tmp_path / "cache"), "job_id": job_id}, request
    )
    await deps.github.meter.aclose()

    assert result["outcome"] == "pr_opened", result
    (day,) = await stats.read_days(redis, [stats.day_of(time.time())])
    assert day.get("jobs:fix_check_run") == 1
    assert day.get("outcome:fix_check_run:pr_opened") == 1
    assert day.get("proven") == 1
    assert day.get("prs:opened") == 1
    assert day.by_prefix("reason:") == {}
    for phase in ("evidence", "gate", "reproduce", "workspace", "localize", "propose", "validate", "publish"):
        assert day.get(f"phase_count:{phase}") == 1, phase
    assert 0 < day.sum_prefix("phase_seconds:") <= time.time() - started
    assert len(day.time_to_pr) == 1
    assert 0 <= day.time_to_pr[0] <= time.time() - started
    assert len(day.fingerprints) == 1
    # reproduce: the failing commit once (it failed, so no reruns); validate: baseline, then the fix
    assert day.by_prefix("sandbox:local:") == {"failed": 2, "passed": 1}

    calls = await JobArtefacts(redis).model_calls(job_id)
    assert len(calls) == len(model.state.bodies) == 3
    assert day.get(f"tokens:{MODEL}") == sum(
        c["input_tokens"] + c["output_tokens"] + c["cache_read_tokens"] + c["cache_write_tokens"]
        for c in calls
    )
    assert day.get(f"dollars:{MODEL}") > 0
    api_calls = sum(r.headers.get("user-agent") == "autofix" for r in gh.state.requests) - api_before
    assert day.get("github_calls") == api_calls > 0
    assert (await stats.read_github_rate(redis))["remaining"] < 5000

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for s in family.samples
    }
    assert samples[("autofix_jobs_total", (("kind", "fix_check_run"), ("outcome", "pr_opened")))] == 1
    assert samples[("autofix_proven_fixes_total", ())] == 1
    assert samples[("autofix_time_to_pr_seconds_count", ())] == 1
    assert samples[("autofix_phase_seconds_count", (("phase", "validate"),))] == 1
    assert samples[("autofix_sandbox_runs_total", (("backend", "local"), ("outcome", "passed")))] == 1
    assert samples[("autofix_model_tokens_total", (("model", MODEL),))] == day.get(f"tokens:{MODEL}")
    assert samples[("autofix_github_api_calls_total", ())] >= api_calls
