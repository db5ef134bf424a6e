"""ActionsSandbox end to end against the local GitHub, which runs the real autofix-sandbox workflow
(sandbox_runner included) when the caller that `autofix init` writes is dispatched."""

from __future__ import annotations

import asyncio
import contextlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.github.actions_runs import Artifact, WorkflowRun, dispatch_workflow
from app.github.client import GitHubApp, Installation
from app.init_cmd import WORKFLOW_PATH, render_caller
from app.routing import route
from app.settings import Settings
from jobs.received import sandbox_finished
from jobs.reproduce import Verdict, reproduce
from jobs.sandbox import signals
from jobs.sandbox.actions import (
    ActionsSandbox,
    decide_conclusion,
    missing_results,
    parse_artifact_zip,
    pick_artifacts,
)
from jobs.sandbox.base import (
    ArtifactsExpired,
    Limits,
    PatchesTooLarge,
    ResultsMissing,
    RunCancelled,
    RunTimedOut,
    SetupFailed,
    WorkflowMissing,
    WorkflowRefused,
)
from sandbox_runner.report import FailureReport
from sandbox_runner.result import Outcome
from tests.fakes.github import faults, gitstore
from tests.fakes.github.sandboxexec import SandboxFaults
from tests.fakes.github.state import Repo
from tests.fakes.github.webhooks import Hookshot
from tests.support import APP_ID, OWNER, SECRET, LiveServer, LocalGitHub

CALC = "def add(a, b):\n    return a - b\n"
TEST = """\
from calc import add


def test_add():
    assert add(1, 2) == 3


def test_zero():
    assert add(0, 0) == 0
"""
FIX = """\
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""
FAILING = ["test_calc.py::test_add"]
COMMAND = "python -m pytest -q -p no:cacheprovider"
LIMITS = Limits(timeout_s=120, wait_s=50)


@pytest.fixture
def edge(gh: LocalGitHub, app_settings: Settings, redis: Redis) -> GitHubApp:
    return GitHubApp(app_settings.model_copy(update={"github_api_url": gh.url}), redis)


@pytest.fixture
def inst(gh: LocalGitHub, edge: GitHubApp) -> Installation:
    return edge.installation(gh.installation_id)


def make_repo(gh: LocalGitHub, *, workflow: bool = True) -> tuple[Repo, str]:
    files = {"calc.py": CALC, "test_calc.py": TEST} | ({WORKFLOW_PATH: render_caller()} if workflow else {})
    repo = gh.sim.create_repo(OWNER, "calc", files)
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    return repo, sha


async def test_baseline_and_candidate_run_for_real_and_come_back_as_results(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    _, sha = make_repo(gh)
    sandbox = ActionsSandbox(inst, redis, poll_s=0.3)
    baseline, fix = await sandbox.run(
        f"{OWNER}/calc", sha, None, COMMAND, {"fix": FIX}, failing=FAILING, limits=LIMITS
    )
    assert baseline.candidate_id == "baseline"
    assert baseline.outcome_of("test_calc.py::test_add") is Outcome.FAILED
    assert baseline.outcome_of("test_calc.py::test_zero") is Outcome.PASSED
    assert fix.patch is not None
    assert (fix.candidate_id, fix.patch.applied, fix.exit_code) == ("fix", True, 0)
    assert fix.outcome_of("test_calc.py::test_add") is Outcome.PASSED
    [run] = gh.state.actions.runs.values()
    assert run.conclusion == "success"
    assert signals.parse_correlation_id(run.display_title) == run.inputs["correlation_id"]
    names = sorted(gh.state.actions.artifacts[a].name for a in run.artifact_ids)
    assert names == ["result-baseline", "result-fix"]
    assert "persist-credentials" not in run.inputs  # the inputs are the three the caller declares
    assert sorted(run.inputs) == ["correlation_id", "request", "sha"]


async def test_a_refused_patch_is_a_result_not_an_error(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    _, sha = make_repo(gh)
    evil = FIX.replace("calc.py", ".github/workflows/x.yml")
    sandbox = ActionsSandbox(inst, redis, poll_s=0.3)
    _, refused = await sandbox.run(f"{OWNER}/calc", sha, None, COMMAND, {"evil": evil}, limits=LIMITS)
    assert refused.patch is not None
    assert not refused.patch.applied
    assert refused.exit_code is None


def webhook_app(settings: Settings, redis_url: str) -> Starlette:
    """The webhook's path to the waiting sandbox: route the delivery, run the routed job function
    (with its own Redis connection, made and closed on the server's event loop)."""
    held: dict[str, Redis] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        held["redis"] = Redis.from_url(redis_url)
        yield
        await held["redis"].aclose()

    async def hook(request: Request) -> Response:
        event, payload = request.headers["x-github-event"], await request.json()
        for job in route(event, payload, settings).jobs:
            await sandbox_finished({"redis": held["redis"], "job_id": job.job_id}, job.args)
        return Response(status_code=202)

    return Starlette(routes=[Route("/webhooks/github", hook, methods=["POST"])], lifespan=lifespan)


async def test_the_workflow_run_webhook_wakes_the_wait_before_the_poll(
    gh: LocalGitHub, inst: Installation, redis: Redis, redis_url: str, app_settings: Settings
) -> None:
    _, sha = make_repo(gh)
    with LiveServer(webhook_app(app_settings, redis_url)) as target:
        hookshot = Hookshot(gh.state, f"{target.url}/webhooks/github", SECRET, APP_ID)
        try:
            sandbox = ActionsSandbox(inst, redis, poll_s=45)  # a poll would come after the test's limit
            results = await asyncio.wait_for(
                sandbox.run(f"{OWNER}/calc", sha, None, COMMAND, {}, failing=FAILING, limits=LIMITS), 40
            )
        finally:
            hookshot.close()
    assert [r.candidate_id for r in results] == ["baseline"]


async def test_no_workflow_in_the_repository(gh: LocalGitHub, inst: Installation, redis: Redis) -> None:
    _, sha = make_repo(gh, workflow=False)
    with pytest.raises(WorkflowMissing) as err:
        await ActionsSandbox(inst, redis).run(f"{OWNER}/calc", sha, None, COMMAND, {})
    assert "autofix init" in err.value.render()


async def test_a_caller_that_does_not_take_our_inputs_is_refused(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    old_caller = render_caller().replace(", request: {required: true}", "")
    gh.sim.create_repo(OWNER, "calc", {"calc.py": CALC, WORKFLOW_PATH: old_caller})
    with pytest.raises(WorkflowRefused, match="Unexpected inputs") as err:
        await ActionsSandbox(inst, redis).run(f"{OWNER}/calc", "0" * 40, None, COMMAND, {})
    assert "autofix init" in err.value.render()


async def test_a_failing_setup_on_the_runner(gh: LocalGitHub, inst: Installation, redis: Redis) -> None:
    _, sha = make_repo(gh)
    sandbox = ActionsSandbox(inst, redis, poll_s=0.3)
    with pytest.raises(SetupFailed, match="exit code 7"):
        await sandbox.run(f"{OWNER}/calc", sha, "exit 7", COMMAND, {}, limits=LIMITS)


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        (SandboxFaults(cancel=True), RunCancelled),
        (SandboxFaults(expire_artifacts=True), ArtifactsExpired),
        (SandboxFaults(drop_artifacts=True), ArtifactsExpired),  # deleted: a success uploaded them all
    ],
)
async def test_faults_become_outcomes(
    gh: LocalGitHub, inst: Installation, redis: Redis, faults: SandboxFaults, error: type[Exception]
) -> None:
    _, sha = make_repo(gh)
    gh.state.actions.sandbox = faults
    with pytest.raises(error):
        await ActionsSandbox(inst, redis, poll_s=0.3).run(
            f"{OWNER}/calc", sha, None, COMMAND, {}, limits=LIMITS
        )


async def test_an_artifact_that_expires_between_listing_and_download(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    _, sha = make_repo(gh)
    gh.state.faults.add("GET", r"/actions/artifacts/\d+/zip$", faults.status(410, "Artifact has expired"))
    with pytest.raises(ArtifactsExpired, match="is gone"):
        await ActionsSandbox(inst, redis, poll_s=0.3).run(
            f"{OWNER}/calc", sha, None, COMMAND, {}, limits=LIMITS
        )
    assert [f[2] for f in gh.state.faults.fired] == ["status"]


async def test_a_run_that_never_finishes_times_out(gh: LocalGitHub, inst: Installation, redis: Redis) -> None:
    _, sha = make_repo(gh)
    gh.state.actions.sandbox = faults = SandboxFaults(hold=True)
    decoy = {"correlation_id": "af-0000000000000000", "sha": sha, "request": "{}"}
    await dispatch_workflow(inst, OWNER, "calc", "autofix-sandbox.yml", "main", decoy)  # another batch
    try:
        with pytest.raises(RunTimedOut, match="still in_progress after the wait limit; cancelled it"):
            await ActionsSandbox(inst, redis, poll_s=0.2).run(
                f"{OWNER}/calc", sha, None, COMMAND, {}, limits=Limits(wait_s=1.0)
            )
        other, ours = sorted(gh.state.actions.runs.values(), key=lambda r: r.id)
        assert [r.path for r in gh.state.seen("POST", "/cancel")] == [
            f"/repos/{OWNER}/calc/actions/runs/{ours.id}/cancel"  # the run of our correlation id only
        ]
        assert (ours.status, ours.conclusion) == ("completed", "cancelled")
        assert (other.inputs["correlation_id"], other.status) == (decoy["correlation_id"], "in_progress")
    finally:
        faults.release.set()


QUEUED_CALLER = render_caller().split("jobs:")[0] + (
    "jobs:\n  sandbox:\n    runs-on: [self-hosted, gpu]  # no runner has these labels\n"
    "    steps: [{run: 'true'}]\n"
)


def make_stuck_repo(gh: LocalGitHub) -> str:
    """A repository whose sandbox caller no runner ever picks up: each dispatched run stays queued."""
    repo = gh.sim.create_repo(OWNER, "calc", {"calc.py": CALC, WORKFLOW_PATH: QUEUED_CALLER})
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    return sha


async def test_a_run_that_never_starts_is_cancelled_at_the_deadline(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    sha = make_stuck_repo(gh)
    with pytest.raises(RunTimedOut, match="still queued after the wait limit; cancelled it"):
        await ActionsSandbox(inst, redis, poll_s=0.2).run(
            f"{OWNER}/calc", sha, None, COMMAND, {}, limits=Limits(wait_s=0.6)
        )
    [run] = gh.state.actions.runs.values()
    assert [r.path for r in gh.state.seen("POST", "/cancel")] == [
        f"/repos/{OWNER}/calc/actions/runs/{run.id}/cancel"
    ]
    assert (run.status, run.conclusion) == ("completed", "cancelled")
    assert {gh.state.actions.jobs[j].conclusion for j in run.job_ids} == {"cancelled"}


async def test_a_run_that_completes_as_the_deadline_passes_is_not_cancelled(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    """The run ends between the last look and the cancel: GitHub answers 409, which is fine."""
    sha = make_stuck_repo(gh)

    class Late(ActionsSandbox):
        async def _cancel(self, owner: str, name: str, run: WorkflowRun) -> str:
            gh.sim.complete_workflow_run(gh.state.actions.runs[run.id], "success")  # just before
            return await super()._cancel(owner, name, run)

    with pytest.raises(RunTimedOut, match="still queued after the wait limit; it completed meanwhile"):
        await Late(inst, redis, poll_s=0.2).run(
            f"{OWNER}/calc", sha, None, COMMAND, {}, limits=Limits(wait_s=0.6)
        )
    [run] = gh.state.actions.runs.values()
    assert len(gh.state.seen("POST", "/cancel")) == 1  # the local GitHub itself answered 409
    assert run.conclusion == "success"


async def test_a_cancel_that_fails_still_reports_the_timeout(
    gh: LocalGitHub, inst: Installation, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    sha = make_stuck_repo(gh)
    gh.state.faults.add("POST", r"/actions/runs/\d+/cancel$", faults.status(502))
    with pytest.raises(RunTimedOut, match=r"cancelling it failed \(GitHub answered 502"):
        await ActionsSandbox(inst, redis, poll_s=0.2).run(
            f"{OWNER}/calc", sha, None, COMMAND, {}, limits=Limits(wait_s=0.6)
        )
    [run] = gh.state.actions.runs.values()
    assert run.status == "queued"  # nothing was cancelled: the workflow's own timeout-minutes is left
    assert f"could not cancel run {run.id} of {OWNER}/calc" in caplog.text


async def test_patches_too_large_for_an_input_are_refused_before_dispatch(
    gh: LocalGitHub, inst: Installation, redis: Redis
) -> None:
    _, sha = make_repo(gh)
    huge = FIX + "+" + "x" * 50_000 + "\n"
    with pytest.raises(PatchesTooLarge, match="over 60000"):
        await ActionsSandbox(inst, redis).run(f"{OWNER}/calc", sha, None, COMMAND, {"a": huge})
    assert gh.state.actions.runs == {}


def test_conclusions_and_artifacts_decide_outcomes() -> None:
    def run(conclusion: str) -> WorkflowRun:
        return WorkflowRun(1, "autofix-sandbox", "t", "completed", conclusion, "s", "u", "c")

    for conclusion, error in (("cancelled", RunCancelled), ("timed_out", RunTimedOut)):
        with pytest.raises(error):
            decide_conclusion(run(conclusion))
    decide_conclusion(run("failure"))  # failing tests are results, not an error
    assert isinstance(missing_results(run("success"), ["fix"]), ArtifactsExpired)
    assert isinstance(missing_results(run("failure"), ["fix"]), ResultsMissing)
    live, old = Artifact(2, "result-baseline", 10, False), Artifact(1, "result-baseline", 10, True)
    assert pick_artifacts([live, old], ["baseline"]) == {"baseline": live}  # the newest wins (a rerun)
    with pytest.raises(ArtifactsExpired):
        pick_artifacts([Artifact(3, "result-fix", 10, True)], ["fix"])


def test_an_artifact_without_result_json(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "x")
    with pytest.raises(ResultsMissing, match=r"no readable result\.json"):
        parse_artifact_zip(buffer.getvalue())
    with pytest.raises(ResultsMissing):
        parse_artifact_zip(b"not a zip")


async def test_the_signal_is_keyed_by_correlation_id_and_waits_for_its_waiter(redis: Redis) -> None:
    title = "autofix-sandbox af-0123456789abcdef"
    assert signals.parse_correlation_id(title) == "af-0123456789abcdef"
    assert signals.parse_correlation_id("CI") is None
    assert not await signals.post_run_finished(redis, "CI", 1, "success")
    assert await signals.post_run_finished(redis, title, 9, "success")  # before anyone waits
    assert await signals.wait_run_finished(redis, "af-0123456789abcdef", 1) == {
        "run_id": 9,
        "conclusion": "success",
    }
    assert await signals.wait_run_finished(redis, "af-0123456789abcdef", 0.1) is None
    assert await signals.wait_run_finished(redis, "af-fedcba9876543210", 0.1) is None
    assert await redis.exists(signals.PREFIX + "af-0123456789abcdef") == 0  # consumed
    assert signals.new_correlation_id() != signals.new_correlation_id()


async def test_reproduce_on_the_users_runners(gh: LocalGitHub, inst: Installation, redis: Redis) -> None:
    _, sha = make_repo(gh)
    report = FailureReport(source={"kind": "log"}, failure_class="test", fixable=True, failing_tests=FAILING)
    sandbox = ActionsSandbox(inst, redis, poll_s=0.3)
    got = await reproduce(sandbox, report, repo=f"{OWNER}/calc", sha=sha, command=COMMAND, limits=LIMITS)
    assert (got.verdict, got.failing) == (Verdict.REPRODUCED, FAILING)
    assert len(gh.state.actions.runs) == 1
