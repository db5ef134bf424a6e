"""Checklist I, the Actions sandbox: what tests/test_sandbox_actions.py (the worker's side of a run
that never starts or never finishes) leaves open: the local GitHub's own cancel route, answered as
GitHub answers `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel`."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import WebhookCheckRunCompleted, WebhookWorkflowRunCompleted

from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

QUEUED = """\
name: autofix-sandbox
run-name: autofix-sandbox ${{ inputs.correlation_id }}
on:
  workflow_dispatch:
    inputs: {correlation_id: {required: true}}
permissions: {contents: read}
jobs:
  sandbox:
    name: Sandbox
    runs-on: [self-hosted, gpu]
    steps: [{run: make test}]
"""


async def test_I7_the_local_github_cancels_a_queued_run_as_github_does(gh: LocalGitHub) -> None:
    """I7: 202 with `{}`; the run and its jobs end cancelled and say so by webhook (check_run, then
    workflow_run completed); cancelling it again is 409, an unknown or another repository's run 404."""
    gh.sim.create_repo(OWNER, "demo", {".github/workflows/sandbox.yml": QUEUED})
    gh.sim.create_repo(OWNER, "other", {"x.txt": "x\n"})
    client = gh.client()
    await client.rest.actions.async_create_workflow_dispatch(
        OWNER, "demo", "sandbox.yml", ref="main", inputs={"correlation_id": "af-1"}
    )
    [run] = gh.state.actions.runs.values()
    assert run.status == "queued"
    with hooks_to(gh, HookReceiver()) as receiver:
        answer = await client.rest.actions.async_cancel_workflow_run(OWNER, "demo", run.id)
        gh.state.hookshot.flush()
    assert (answer.status_code, answer.json()) == (202, {})
    got = (await client.rest.actions.async_get_workflow_run(OWNER, "demo", run.id)).parsed_data
    assert (got.status, got.conclusion) == ("completed", "cancelled")
    check_run, workflow_run = (parse(h.event, h.body) for h in receiver.seen)
    assert isinstance(check_run, WebhookCheckRunCompleted)
    assert (check_run.check_run.name, check_run.check_run.conclusion) == ("Sandbox", "cancelled")
    assert isinstance(workflow_run, WebhookWorkflowRunCompleted)
    assert (workflow_run.workflow_run.id, workflow_run.workflow_run.conclusion) == (run.id, "cancelled")

    for repo, run_id, status, message in (
        ("demo", run.id, 409, "Cannot cancel a workflow run that is completed."),
        ("demo", 999_999_999, 404, "Not Found"),
        ("other", run.id, 404, "Not Found"),
    ):
        with pytest.raises(RequestFailed) as refused:
            await client.rest.actions.async_cancel_workflow_run(OWNER, repo, run_id)
        assert refused.value.response.status_code == status
        assert refused.value.response.json()["message"] == message
