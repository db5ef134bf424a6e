"""The product path with nothing short-circuited: the local GitHub's signed webhook reaches the real
`autofix web`, the job waits in a real Redis, a real arq worker runs fix_check_run, and the repository's
code runs on "its own runners": the local GitHub executes the reusable sandbox workflow that
`autofix init` wires up (AUTOFIX_SANDBOX=actions). The model is the scripted local server."""

from __future__ import annotations

import subprocess
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from app.init_cmd import WORKFLOW_PATH, render_caller
from app.settings import Settings
from app.web import build_app
from jobs.worker import build_worker
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.webhooks import Hookshot
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, KEY, Served
from tests.pipeline_support import FILES, real_pytest_log, show
from tests.support import APP_ID, OWNER, SECRET, LiveServer, LocalGitHub


async def test_a_failed_check_becomes_a_pr_through_web_redis_worker_and_the_actions_sandbox(
    gh: LocalGitHub, app_settings: Settings, redis: Redis, redis_url: str, model: Served[Any], tmp_path: Any
) -> None:
    settings = app_settings.model_copy(
        update={
            "github_api_url": gh.url,
            "anthropic_base_url": model.url,
            "anthropic_api_key": SecretStr(KEY),
            "autofix_sandbox": "actions",
            "autofix_sandbox_poll": 1,
            "autofix_data_dir": tmp_path / "data",
        }
    )
    files = FILES | {WORKFLOW_PATH: render_caller()}
    repo = gh.sim.create_repo(OWNER, "demo", files=files)
    sha = subprocess.run(  # noqa: ASYNC221  # set-up
        ["git", "--git-dir", str(repo.path), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    model.state.script(reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", DIAGNOSIS)))

    with LiveServer(build_app(settings, redis_url)) as web:
        hooks = Hookshot(gh.state, f"{web.url}/webhooks/github", SECRET, APP_ID)
        gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, FILES))
        delivered = hooks.flush()
        worker = build_worker(settings, redis_url, burst=True, handle_signals=False)
        try:
            await worker.async_run()
        finally:
            await worker.close()
        hooks.close()

    assert [d.status_code for d in delivered if d.event == "check_run"] == [202]
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
    assert "| `tests/test_stats.py::test_mean` | failed | passed |" in (pr.body or "")
    sandbox_runs = [r for r in gh.state.actions.runs.values() if r.path == WORKFLOW_PATH]
    assert sandbox_runs, "the repository's code ran on its own (local) runners"
    assert all(r.conclusion == "success" for r in sandbox_runs)
