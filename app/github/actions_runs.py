"""Workflow runs: dispatch the sandbox workflow, find the run it made, list its artifacts, cancel it.

A dispatch answers 204 with no run id, so the caller puts a correlation id in the inputs, the
workflow puts it in its `run-name:`, and `find_dispatched_run` looks for it among the workflow's
recent `workflow_dispatch` runs.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime

from app.github.client import Installation
from app.github.errors import Unprocessable
from app.github.rest import Json, body, fetch_pages, request, segment


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    name: str
    display_title: str
    status: str
    conclusion: str | None
    head_sha: str
    html_url: str
    created_at: str


@dataclass(frozen=True)
class Artifact:
    id: int
    name: str
    size_in_bytes: int
    expired: bool


def parse_run(data: Json) -> WorkflowRun:
    return WorkflowRun(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        display_title=str(data.get("display_title") or ""),
        status=str(data.get("status") or ""),
        conclusion=data.get("conclusion"),
        head_sha=str(data.get("head_sha") or ""),
        html_url=str(data.get("html_url") or ""),
        created_at=str(data.get("created_at") or ""),
    )


def parse_artifact(data: Json) -> Artifact:
    return Artifact(
        id=int(data["id"]),
        name=str(data["name"]),
        size_in_bytes=int(data.get("size_in_bytes") or 0),
        expired=bool(data.get("expired")),
    )


def build_created_filter(after: datetime) -> str:
    """GitHub's search qualifier for runs created at or after `after` (UTC, whole seconds)."""
    moment = after.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return ">=" + moment.isoformat() + "Z"


def is_correlated(run: WorkflowRun, correlation_id: str) -> bool:
    return correlation_id in run.display_title or correlation_id in run.name


async def dispatch_workflow(
    inst: Installation, owner: str, repo: str, workflow_file: str, ref: str, inputs: dict[str, str]
) -> None:
    """Start `workflow_file` on `ref` (GitHub answers 204; find the run with find_dispatched_run)."""
    path = f"/repos/{owner}/{repo}/actions/workflows/{segment(workflow_file)}/dispatches"
    await inst.write(request("POST", path, json={"ref": ref, "inputs": inputs}))


async def find_dispatched_run(
    inst: Installation,
    owner: str,
    repo: str,
    workflow_file: str,
    correlation_id: str,
    created_after: datetime,
) -> WorkflowRun | None:
    """The run of `workflow_file` whose title carries `correlation_id`, or None (not started yet)."""
    path = f"/repos/{owner}/{repo}/actions/workflows/{segment(workflow_file)}/runs"
    params = {"event": "workflow_dispatch", "created": build_created_filter(created_after)}
    async with aclosing(fetch_pages(inst.read, path, params, key="workflow_runs", max_pages=5)) as found:
        async for item in found:
            run = parse_run(item)
            if is_correlated(run, correlation_id):
                return run
    return None


async def fetch_run(inst: Installation, owner: str, repo: str, run_id: int) -> WorkflowRun:
    return parse_run(body(await inst.read(request("GET", f"/repos/{owner}/{repo}/actions/runs/{run_id}"))))


async def cancel_run(inst: Installation, owner: str, repo: str, run_id: int) -> bool:
    """Ask GitHub to cancel run `run_id` (202 Accepted: it stops soon after). False when the run had
    already completed (409 "Cannot cancel a workflow run that is completed."): nothing to stop."""
    try:
        await inst.write(request("POST", f"/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"))
    except Unprocessable as e:
        if e.status != 409:
            raise
        return False
    return True


async def list_run_artifacts(inst: Installation, owner: str, repo: str, run_id: int) -> list[Artifact]:
    path = f"/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"
    return [parse_artifact(item) async for item in fetch_pages(inst.read, path, key="artifacts")]
