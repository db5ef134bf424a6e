"""Pause and resume from the dashboard. Paused, a failing check's job is recorded and skipped by the
gate with "paused"; resuming enqueues it again through the webhook's enqueue path, and the resumed
job then runs to a pull request. Global pause and resume, and the audit trail of who did it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from app.audit import read_audit
from app.dashboard.pause import PAUSED_AT, plan_resume, resumed_id
from app.job_records import JobStore
from app.queue import JOB_PREFIX, deserialize
from app.repo_config import RepoConfig
from app.repo_state import GLOBAL_PAUSE, RepoState
from jobs import names
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.gate import GateFacts, decide_gate
from tests.patch_support import Served
from tests.pipeline_support import FILES, failing_check
from tests.support import LocalGitHub
from tests.test_dashboard_support import SESSION_SECRET, TOKEN, dashboard_client, seed_record, sign_in
from tests.test_fix_check_scenarios import fix_turns


async def queued(redis: Redis, queue: str = names.FIX_QUEUE) -> list[str]:
    return [i.decode() for i in await redis.zrange(queue, 0, -1)]


@pytest.mark.timeout(150)  # two runs of the fix pipeline, one of them to a pull request
async def test_a_paused_repos_job_is_skipped_and_resume_runs_it(
    gh: LocalGitHub, deps: Deps, model: Served[Any], redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    signs_in = {
        "autofix_dashboard_token": SecretStr(TOKEN),
        "autofix_session_secret": SecretStr(SESSION_SECRET),
    }
    settings = deps.settings.model_copy(update=signs_in | {"autofix_data_dir": tmp_path / "data"})
    async with dashboard_client(settings, redis_url) as client:
        csrf = await sign_in(client)
        repos = (await client.get("/dashboard/repos")).text
        assert f'<tr data-repo-id="{repo.id}">' in repos, "the installation's repo is listed"
        assert re.search(rf'data-testid="repo-status-{repo.id}">active<', repos)
        paused = await client.post(f"/dashboard/repos/{repo.id}/pause", data={"csrf": csrf})
        assert (paused.status_code, paused.headers["location"]) == (303, "/dashboard/repos")
        repos = (await client.get("/dashboard/repos")).text
        assert re.search(rf'data-testid="repo-status-{repo.id}">paused<', repos)

        state = RepoState(redis, repo.id)
        assert await state.paused()
        facts = GateFacts("check", repo_paused=await state.paused())
        assert decide_gate(facts, RepoConfig()).reason == "paused"
        skipped = await fix_check_run({"deps": deps, "job_id": "check:while-paused"}, request)
        assert skipped["outcome"] == "skipped"
        record = await JobStore(redis).get("check:while-paused")
        assert record is not None
        gate = record.phase_named("gate")
        assert gate is not None
        assert gate.outcome == "paused"
        assert record.request == request, "the job record keeps the request"
        assert await queued(redis) == []

        resumed = await client.post(f"/dashboard/repos/{repo.id}/resume", data={"csrf": csrf})
        assert resumed.status_code == 303
        assert not await state.paused()
        (new_id,) = await queued(redis)
        assert new_id.startswith("check:while-paused:resumed:")
        body = deserialize(await redis.get(JOB_PREFIX + new_id))
        assert (body["f"], body["a"]) == (names.FIX_CHECK_RUN, [request])

        again = await client.post(f"/dashboard/repos/{repo.id}/resume", data={"csrf": csrf})
        assert again.status_code == 303
        assert await queued(redis) == [new_id], "a second resume enqueues nothing twice"

    model.state.script(*fix_turns())
    done = await fix_check_run({"deps": deps, "job_id": new_id}, *body["a"])
    assert done["outcome"] == "pr_opened", done

    audit = [e for e in await read_audit(redis) if e["kind"].startswith("dashboard.")]
    assert [(e["kind"], e["user"], e["repo_id"], e["repo"]) for e in audit] == [
        ("dashboard.pause", "token", repo.id, repo.full_name),
        ("dashboard.resume", "token", repo.id, repo.full_name),
        ("dashboard.resume", "token", repo.id, repo.full_name),
    ]
    assert audit[1]["resumed"] == [new_id]
    assert audit[2]["resumed"] == []


async def test_global_pause_and_resume_leave_a_repo_paused_on_its_own(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    from tests.test_dashboard_support import dash_settings

    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        csrf = await sign_in(client)
        await seed_record(redis, "check:seen", repo="octo/lib", repo_id=78)  # the dashboard knows the repo
        await client.post("/dashboard/repos/78/pause", data={"csrf": csrf})
        await client.post("/dashboard/pause", data={"csrf": csrf})
        assert await redis.exists(GLOBAL_PAUSE)
        assert 'data-testid="paused-banner"' in (await client.get("/dashboard")).text
        await seed_record(redis, "check:a", repo_id=77, gate="paused", outcome="skipped")
        await seed_record(
            redis, "cmd:a", repo_id=77, kind=names.RUN_COMMAND, gate="paused", outcome="skipped"
        )
        await seed_record(redis, "check:b", repo="octo/lib", repo_id=78, gate="paused", outcome="skipped")
        await seed_record(redis, "check:c", repo_id=77, gate="budget_jobs_per_day", outcome="skipped")
        await seed_record(
            redis, "check:d", repo_id=77, kind=names.RECORD_PR_OUTCOME, gate="paused", outcome="skipped"
        )

        repo_resume = await client.post("/dashboard/repos/77/resume", data={"csrf": csrf})
        assert repo_resume.status_code == 303
        assert await queued(redis) == [], "still paused everywhere: nothing runs yet"

        resumed = await client.post("/dashboard/resume", data={"csrf": csrf})
        assert resumed.status_code == 303
        assert not await redis.exists(GLOBAL_PAUSE)
        assert await RepoState(redis, 78).paused(), "paused on its own, it stays paused"
        at = {k.decode(): float(v) for k, v in (await redis.hgetall(PAUSED_AT)).items()}
        assert list(at) == ["78"]
        fix, commands = await queued(redis), await queued(redis, names.COMMAND_QUEUE)
        assert [i.split(":resumed:")[0] for i in fix] == ["check:a"]
        assert [i.split(":resumed:")[0] for i in commands] == ["cmd:a"]
        assert 'data-testid="paused-banner"' not in (await client.get("/dashboard")).text

        await client.post("/dashboard/repos/78/resume", data={"csrf": csrf})
        assert sorted(i.split(":resumed:")[0] for i in await queued(redis)) == ["check:a", "check:b"]
    kinds = [(e["kind"], e["scope"]) for e in await read_audit(redis) if e["kind"].startswith("dashboard.")]
    assert kinds == [
        ("dashboard.pause", "octo/lib"),
        ("dashboard.pause", "all"),
        ("dashboard.resume", "octo/app"),
        ("dashboard.resume", "all"),
        ("dashboard.resume", "octo/lib"),
    ]


async def test_only_jobs_skipped_as_paused_since_the_pause_come_back(redis: Redis) -> None:
    old = await seed_record(redis, "check:old", gate="paused", outcome="skipped")
    new = await seed_record(redis, "check:new", gate="paused", outcome="skipped")
    other_repo = await seed_record(redis, "check:other", repo_id=99, gate="paused", outcome="skipped")
    pause_time = (old.updated_at + new.updated_at) / 2
    if old.updated_at == new.updated_at:  # same clock tick: place the pause before both
        pause_time = old.updated_at
    plan = plan_resume([old, new, other_repo], pause_time, 77, set())
    assert [j.job_id for j in plan][-1] == resumed_id("check:new", pause_time)
    assert all(j.function == names.FIX_CHECK_RUN for j in plan)
    assert resumed_id("check:new", 1700000000.7) == "check:new:resumed:1700000000"
    assert plan_resume([other_repo], 0, None, {99}) == []
