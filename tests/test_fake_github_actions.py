"""Actions on the local GitHub: dispatch and find the run, jobs as check runs, logs and artifacts behind
redirects to blob URLs that refuse tokens and expire, and the webhooks a finished run sends."""

from __future__ import annotations

import dataclasses
import io
import time
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import WebhookCheckRunCompleted, WebhookWorkflowRunCompleted

from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

SANDBOX = """\
name: autofix-sandbox
run-name: autofix-sandbox ${{ inputs.correlation_id }}
on:
  workflow_dispatch:
    inputs:
      correlation_id: {required: true}
      mode: {default: reproduce}
permissions: {contents: read}
jobs:
  reproduce:
    name: Reproduce
    runs-on: ubuntu-latest
    steps: [{run: make test}]
"""
LOG = "2026-03-02T10:00:00Z FAILED tests/test_calc.py::test_add - assert -1 == 3\n"


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    return gh.sim.create_repo(OWNER, "demo", {".github/workflows/sandbox.yml": SANDBOX, "calc.py": "x\n"})


async def test_dispatch_then_find_the_run_by_its_correlation_id(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    dispatched = await client.rest.actions.async_create_workflow_dispatch(
        OWNER, "demo", "sandbox.yml", ref="main", inputs={"correlation_id": "c-42"}
    )
    created = ">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")
    found = await client.rest.actions.async_list_workflow_runs(
        OWNER, "demo", "sandbox.yml", event="workflow_dispatch", created=created
    )
    later = await client.rest.actions.async_list_workflow_runs_for_repo(
        OWNER, "demo", created=">=" + (since + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    [run] = found.parsed_data.workflow_runs
    got = (await client.rest.actions.async_get_workflow_run(OWNER, "demo", run.id)).parsed_data
    workflow = (await client.rest.actions.async_get_workflow(OWNER, "demo", "sandbox.yml")).parsed_data

    assert dispatched.status_code == 204
    assert (run.name, run.display_title) == ("autofix-sandbox", "autofix-sandbox c-42")
    assert (run.event, run.status, run.head_branch) == ("workflow_dispatch", "queued", "main")
    assert run.head_sha == gitstore.rev_parse(repo.path, "refs/heads/main")
    assert got.workflow_id == workflow.id == run.workflow_id
    assert later.parsed_data.total_count == 0
    assert gh.state.actions.runs[run.id].inputs == {"correlation_id": "c-42", "mode": "reproduce"}


@pytest.mark.parametrize(
    ("workflow", "body", "status", "message"),
    [
        (
            "sandbox.yml",
            {"ref": "main", "inputs": {"correlation_id": "x", "evil": "1"}},
            422,
            'Unexpected inputs provided: ["evil"]',
        ),
        ("sandbox.yml", {"ref": "main", "inputs": {}}, 422, "Required input 'correlation_id' not provided"),
        ("sandbox.yml", {"ref": "nope", "inputs": {"correlation_id": "x"}}, 422, "No ref found for: nope"),
        ("missing.yml", {"ref": "main"}, 404, "Not Found"),
    ],
)
async def test_dispatch_refusals(
    gh: LocalGitHub, repo: Repo, workflow: str, body: dict[str, object], status: int, message: str
) -> None:
    client = gh.client()
    with pytest.raises(RequestFailed) as err:
        await client.arequest(
            "POST", f"/repos/{OWNER}/demo/actions/workflows/{workflow}/dispatches", json=body
        )
    assert err.value.response.status_code == status
    assert err.value.response.json()["message"] == message


async def test_jobs_are_check_runs_and_logs_sit_behind_a_blob_redirect(gh: LocalGitHub, repo: Repo) -> None:
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    check = gh.sim.fail_check(repo, sha, "tests", log=LOG)
    client = gh.client()

    job = (await client.rest.actions.async_get_job_for_workflow_run(OWNER, "demo", check.id)).parsed_data
    jobs = (await client.rest.actions.async_list_jobs_for_workflow_run(OWNER, "demo", job.run_id)).parsed_data
    run = (await client.rest.checks.async_get(OWNER, "demo", check.id)).parsed_data
    followed = await client.rest.actions.async_download_job_logs_for_workflow_run(OWNER, "demo", job.id)
    nofollow = GitHub(client.auth, config=dataclasses.replace(client.config, follow_redirects=False))
    raw = await nofollow.arequest("GET", f"/repos/{OWNER}/demo/actions/jobs/{job.id}/logs")
    location = raw.headers["location"]

    assert (job.name, job.conclusion, jobs.total_count) == ("tests", "failure", 1)
    assert run.app is not None
    assert (run.id, run.app.slug, run.conclusion) == (job.id, "github-actions", "failure")
    assert run.details_url == f"https://github.com/{OWNER}/demo/actions/runs/{job.run_id}/job/{job.id}"
    assert followed.text == LOG  # githubkit follows; httpx drops the token on the other origin
    assert raw.status_code == 302
    async with httpx.AsyncClient() as plain:
        with_token = await plain.get(location, headers={"Authorization": "token ghs_leaked"})
        without = await plain.get(location)
        gh.state.clock = lambda: time.time() + 61
        expired = await plain.get(location)
    assert (with_token.status_code, without.status_code, expired.status_code) == (400, 200, 410)
    assert without.text == LOG


async def test_completed_run_with_artifacts_and_its_webhooks(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    await client.rest.actions.async_create_workflow_dispatch(
        OWNER, "demo", "sandbox.yml", ref="main", inputs={"correlation_id": "c-7"}
    )
    [run] = gh.state.actions.runs.values()
    with hooks_to(gh, HookReceiver()) as receiver:
        gh.sim.complete_workflow_run(
            run, "success", logs={"Reproduce": "ok\n"}, artifacts={"result": {"result.json": b'{"ok": true}'}}
        )
        gh.state.hookshot.flush()
    artifacts = (
        await client.rest.actions.async_list_workflow_run_artifacts(OWNER, "demo", run.id)
    ).parsed_data
    done = (
        await client.rest.actions.async_list_workflow_runs_for_repo(OWNER, "demo", status="success")
    ).parsed_data
    [artifact] = artifacts.artifacts
    archive = await client.rest.actions.async_download_artifact(OWNER, "demo", artifact.id, "zip")

    assert [h.event for h in receiver.seen] == ["check_run", "workflow_run"]
    check_run, workflow_run = (parse(h.event, h.body) for h in receiver.seen)
    assert isinstance(check_run, WebhookCheckRunCompleted)
    assert check_run.check_run.name == "Reproduce"
    assert isinstance(workflow_run, WebhookWorkflowRunCompleted)
    assert workflow_run.workflow_run.display_title == "autofix-sandbox c-7"
    assert workflow_run.workflow_run.conclusion == "success"
    assert [r.id for r in done.workflow_runs] == [run.id]
    assert (artifact.name, artifact.expired) == ("result", False)
    assert zipfile.ZipFile(io.BytesIO(archive.content)).read("result.json") == b'{"ok": true}'
