"""The production GitHub edge against the local GitHub: real HTTP, real JWTs and tokens, real git.

And the whole ingestion path: the local GitHub's own signed webhooks reach `autofix web` and become
the jobs the worker runs.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.audit import read_audit
from app.github.actions_logs import download_job_log
from app.github.actions_runs import dispatch_workflow, find_dispatched_run
from app.github.checks import CheckOutput, create_check_run, fetch_check_run, find_check_run
from app.github.client import GitHubApp
from app.github.contents import fetch_default_branch, read_file, read_repo_config
from app.github.conversation import fetch_permission, upsert_sticky_comment
from app.github.errors import Forbidden, NotFound
from app.github.git_data import commit_files, upsert_branch
from app.github.pulls import close_pr, find_open_pr, open_or_update_pr
from app.settings import Settings
from app.web import build_app
from jobs.worker import build_workers, run_workers
from tests.fakes.github.webhooks import Hookshot
from tests.support import APP_ID, OWNER, SECRET, LiveServer, LocalGitHub, make_settings

CONFIG = "triggers:\n  checks: ['tests']\n"


@pytest.fixture
def edge(gh: LocalGitHub, app_settings: Settings, redis: Redis) -> GitHubApp:
    return GitHubApp(app_settings.model_copy(update={"github_api_url": gh.url}), redis)


def _git(repo_path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo_path), *args], capture_output=True, text=True, check=True
    ).stdout


async def test_reads_files_and_the_repo_config_from_the_default_branch(
    gh: LocalGitHub, edge: GitHubApp
) -> None:
    gh.sim.create_repo(OWNER, "demo", files={"src/calc.py": "def add(a, b):\n    return a - b\n",
                                             ".github/autofix.yml": CONFIG})  # fmt: skip
    inst = edge.installation(gh.installation_id)
    assert await read_repo_config(inst, OWNER, "demo") == CONFIG
    assert await read_file(inst, OWNER, "demo", "src/calc.py") == "def add(a, b):\n    return a - b\n"
    assert await read_file(inst, OWNER, "demo", "missing.py") is None


async def test_commits_through_the_git_data_api_land_in_the_repository(
    gh: LocalGitHub, edge: GitHubApp
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"src/calc.py": "return a - b\n", "old.txt": "x\n"})
    base = _git(repo.path, "rev-parse", "main").strip()
    inst = edge.installation(gh.installation_id)

    sha = await commit_files(
        inst, OWNER, "demo", base, {"src/calc.py": "return a + b\n", "old.txt": None}, "Fix add()"
    )
    await upsert_branch(inst, OWNER, "demo", "autofix/check-1", sha)

    assert _git(repo.path, "rev-parse", "autofix/check-1").strip() == sha
    assert _git(repo.path, "show", f"{sha}:src/calc.py") == "return a + b\n"
    assert "old.txt" not in _git(repo.path, "ls-tree", "-r", "--name-only", sha)
    assert _git(repo.path, "rev-parse", f"{sha}^").strip() == base


async def test_sticky_comment_is_written_once_then_updated(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    issue = gh.sim.open_issue(repo, "add() subtracts")
    inst = edge.installation(gh.installation_id)

    first = await upsert_sticky_comment(inst, OWNER, "demo", issue.number, "status", "Working on it.")
    second = await upsert_sticky_comment(inst, OWNER, "demo", issue.number, "status", "Opened a fix.")

    assert first.id == second.id
    [comment] = [
        c for c in gh.state.comments.values() if c.repo == repo.full_name and c.issue_number == issue.number
    ]
    assert "Opened a fix." in comment.body
    assert "Working on it." not in comment.body


async def test_permission_levels_as_github_reports_them(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    gh.sim.set_permission(repo, "lisa", "write")
    gh.sim.set_permission(repo, "tom", "read")
    inst = edge.installation(gh.installation_id)
    levels = [await fetch_permission(inst, OWNER, "demo", user) for user in ("lisa", "tom", "eve")]
    assert levels == ["write", "read", "none"]


async def test_the_bots_check_run_is_found_by_external_id_not_duplicated(
    gh: LocalGitHub, edge: GitHubApp
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    sha = _git(repo.path, "rev-parse", "main").strip()
    inst = edge.installation(gh.installation_id)
    output = CheckOutput("Reproducing", "Running the failing test in the sandbox.")

    def create() -> Any:
        return create_check_run(
            inst, OWNER, "demo", name="autofix", head_sha=sha, external_id="job-1", output=output
        )

    first, again = await create(), await create()

    assert first.id == again.id
    found = await find_check_run(inst, OWNER, "demo", sha, "autofix", "job-1")
    assert found is not None
    assert (await fetch_check_run(inst, OWNER, "demo", first.id)).name == "autofix"


async def test_a_token_that_expires_mid_job_is_renewed(
    gh: LocalGitHub, edge: GitHubApp, redis: Redis
) -> None:
    gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    inst = edge.installation(gh.installation_id)
    assert await read_file(inst, OWNER, "demo", "a.py") == "x = 1\n"
    cached = await edge.token(gh.installation_id)
    for token in gh.state.tokens.values():  # GitHub expires (or revokes) it; our cache still holds it
        token.expires_at = gh.state.clock() - 1

    assert await read_file(inst, OWNER, "demo", "a.py") == "x = 1\n"
    renewed = await edge.token(gh.installation_id)
    assert renewed != cached
    mints = gh.state.seen("POST", f"/app/installations/{gh.installation_id}/access_tokens")
    assert len(mints) == 2


async def test_permission_and_visibility_errors_are_typed(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    gh.sim.create_repo("someone-else", "private", files={"a.py": "x = 1\n"})
    inst = edge.installation(gh.installation_id)
    assert await read_file(inst, "someone-else", "private", "a.py") is None
    with pytest.raises(NotFound):  # not installed there: GitHub says 404, not 403
        await fetch_default_branch(inst, "someone-else", "private")
    gh.state.installations[gh.installation_id].permissions["issues"] = "read"
    await edge.drop_token(gh.installation_id)
    issue = gh.sim.open_issue(repo, "broken")
    with pytest.raises(Forbidden, match="Resource not accessible by integration"):
        await upsert_sticky_comment(inst, OWNER, "demo", issue.number, "status", "hello")


async def test_the_local_githubs_webhooks_become_jobs_the_worker_runs(
    gh: LocalGitHub, redis: Redis, redis_url: str
) -> None:
    """GitHub -> signed delivery -> autofix web -> Redis -> worker: the whole ingestion path."""
    settings = make_settings(redis_url=redis_url, github_api_url=gh.url)
    with LiveServer(build_app(settings, redis_url)) as web:
        hooks = Hookshot(gh.state, f"{web.url}/webhooks/github", SECRET, APP_ID)
        repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
        sha = _git(repo.path, "rev-parse", "main").strip()
        issue = gh.sim.open_issue(repo, "add() subtracts")
        gh.sim.set_permission(repo, "lisa", "write")
        gh.state.add_app(APP_ID + 1, gh.private_key, slug="ci")
        gh.sim.fail_check(repo, sha, "tests", APP_ID + 1)  # another App's CI failed
        gh.sim.label_issue(repo, issue.number, "autofix")
        gh.sim.comment(repo, issue.number, "/autofix retry", user="lisa")
        deliveries = hooks.flush()
        hooks.close()

    assert {d.event: d.status_code for d in deliveries if d.event != "issues" or d.action == "labeled"} == {
        "check_run": 202,
        "issues": 202,
        "issue_comment": 202,
    }
    await run_workers(build_workers(settings, redis_url, burst=True, handle_signals=False), burst=True)
    received = {e["function"]: e["request"] for e in await read_audit(redis) if e["kind"] == "job.received"}
    assert set(received) == {"fix_check_run", "fix_issue", "run_command"}
    assert received["fix_check_run"]["head_sha"] == sha
    assert received["fix_check_run"]["installation_id"] == gh.installation_id
    assert received["fix_issue"]["issue_number"] == issue.number
    assert received["run_command"]["command"]["verb"] == "retry"


async def test_a_failed_actions_check_leads_to_its_log_without_our_token_leaving_github(
    gh: LocalGitHub, edge: GitHubApp
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    sha = _git(repo.path, "rev-parse", "main").strip()
    log = (
        "".join(f"2026-11-21T05:00:{i % 60:02d}Z line {i}\n" for i in range(2000))
        + "FAILED tests/test_a.py::t\n"
    )
    check = gh.sim.fail_check(repo, sha, "tests", log=log)
    inst = edge.installation(gh.installation_id)

    run = await fetch_check_run(inst, OWNER, "demo", check.id)
    assert run.conclusion == "failure"
    assert run.actions_job_id == check.id  # an Actions job's check run id is the job id
    fetched = await download_job_log(inst, OWNER, "demo", run.actions_job_id, max_bytes=4096)

    assert fetched.truncated
    assert fetched.text.endswith("FAILED tests/test_a.py::t\n"), "the tail, where failures are, is kept"
    blob_requests = [r for r in gh.state.requests if r.path.startswith("/_blobs/")]
    assert blob_requests
    assert all(r.headers.get("authorization") is None for r in blob_requests)


async def test_pull_requests_are_found_before_they_are_opened(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    base = _git(repo.path, "rev-parse", "main").strip()
    inst = edge.installation(gh.installation_id)
    sha = await commit_files(inst, OWNER, "demo", base, {"a.py": "x = 2\n"}, "Fix x")
    await upsert_branch(inst, OWNER, "demo", "autofix/check-1", sha)

    def open_pr(body_text: str) -> Any:
        return open_or_update_pr(inst, OWNER, "demo", head="autofix/check-1", base="main",
                                 title="Fix x", body_text=body_text)  # fmt: skip

    first, created = await open_pr("Diagnosis: x was 1.")
    again, created_again = await open_pr("Diagnosis: x was 1, and should be 2.")  # a retried job

    assert (created, created_again) == (True, False)
    assert again.number == first.number
    assert again.body == "Diagnosis: x was 1, and should be 2."
    assert (await find_open_pr(inst, OWNER, "demo", "autofix/check-1")) == again
    closed = await close_pr(inst, OWNER, "demo", first.number)
    assert closed.state == "closed"
    assert await find_open_pr(inst, OWNER, "demo", "autofix/check-1") is None


async def test_a_dispatched_workflow_run_is_found_by_its_correlation_id(
    gh: LocalGitHub, edge: GitHubApp
) -> None:
    workflow = (
        "name: autofix-sandbox\nrun-name: autofix-sandbox ${{ inputs.correlation_id }}\n"
        "on:\n  workflow_dispatch:\n    inputs:\n      correlation_id:\n        required: true\n"
        "jobs:\n  run:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
    )
    gh.sim.create_repo(OWNER, "demo", files={".github/workflows/autofix-sandbox.yml": workflow})
    inst = edge.installation(gh.installation_id)
    since = datetime.now(UTC) - timedelta(seconds=5)

    await dispatch_workflow(inst, OWNER, "demo", "autofix-sandbox.yml", "main", {"correlation_id": "job-42"})
    await dispatch_workflow(inst, OWNER, "demo", "autofix-sandbox.yml", "main", {"correlation_id": "job-43"})

    run = await find_dispatched_run(inst, OWNER, "demo", "autofix-sandbox.yml", "job-42", since)
    assert run is not None
    assert "job-42" in run.display_title
    assert await find_dispatched_run(inst, OWNER, "demo", "autofix-sandbox.yml", "job-99", since) is None
