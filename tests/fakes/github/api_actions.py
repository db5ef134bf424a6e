"""Actions routes: workflows, dispatch, workflow runs (filtered, wrapped, paginated, cancelled) and
their jobs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import actionruns, events, gitstore, sandboxexec
from tests.fakes.github.actionshapes import render_job, render_run, render_workflow
from tests.fakes.github.actionstate import WorkflowRun
from tests.fakes.github.auth import require
from tests.fakes.github.errors import ApiError, not_found
from tests.fakes.github.http import RepoCall, paginated, repo_call
from tests.fakes.github.workflows import WorkflowSpec, find_workflow, find_workflows, render_run_name

CANCEL_DOCS = "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run"


def spec_of(call: RepoCall) -> WorkflowSpec:
    spec = find_workflow(call.state, call.repo, call.request.path_params["workflow_id"])
    if spec is None:
        raise not_found()
    return spec


def run_of(call: RepoCall, run_id: int) -> WorkflowRun:
    run = call.state.actions.runs.get(run_id)
    if run is None or run.repo != call.repo.full_name:
        raise not_found()
    return run


def run_json(call: RepoCall, run: WorkflowRun) -> dict[str, Any]:
    commit = gitstore.read_commit(call.repo.path, run.head_sha)
    return render_run(call.state.base_url, call.repo, run, commit)


async def list_workflows(request: Request) -> Response:
    call = repo_call(request)
    api, repo = call.state.base_url, call.repo
    specs = find_workflows(call.state, repo)
    return paginated(call, [render_workflow(api, repo, s, repo.created_at) for s in specs], "workflows")


async def get_workflow(request: Request) -> Response:
    call = repo_call(request)
    return call.ok(render_workflow(call.state.base_url, call.repo, spec_of(call), call.repo.created_at))


def check_inputs(spec: WorkflowSpec, inputs: dict[str, Any]) -> dict[str, str]:
    unexpected = sorted(set(inputs) - set(spec.inputs))
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
    missing = sorted(k for k, v in spec.inputs.items() if v.get("required") and k not in inputs)
    if missing:
        raise ApiError(422, f"Required input '{missing[0]}' not provided")
    defaults = {k: str(v["default"]) for k, v in spec.inputs.items() if "default" in v}
    return defaults | {k: str(v) for k, v in inputs.items()}


async def dispatch(request: Request) -> Response:
    call = repo_call(request)
    require(call.token, "actions", "write")
    spec, body = spec_of(call), await call.body()
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        raise ApiError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    branch = ref.removeprefix("refs/heads/")
    if gitstore.rev_parse(call.repo.path, f"refs/heads/{branch}") is None:
        raise ApiError(422, f"No ref found for: {ref}")
    if not spec.dispatchable:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    inputs = check_inputs(spec, body.get("inputs") or {})
    me = events.actor(call.state, call.token)
    title = render_run_name(spec, inputs)
    run = actionruns.start_run(call.state, call.repo, spec, branch, "workflow_dispatch", me, inputs, title)
    sandboxexec.on_dispatch(call.state, call.repo, run)  # the sandbox workflow really runs, in a thread
    return Response(status_code=204)


def parse_created(query: str) -> tuple[float, float]:
    """GitHub's `created` qualifier (`>=T`, `<=T`, `>T`, `<T`, `A..B`, or a date) as a closed range."""

    def ts(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    for op in (">=", "<=", ">", "<"):
        if query.startswith(op):
            moment = ts(query[len(op) :])
            exact = {">": moment + 1, "<": moment - 1}.get(op, moment)
            return (exact, float("inf")) if op[0] == ">" else (float("-inf"), exact)
    if ".." in query:
        low, high = query.split("..", 1)
        return ts(low), ts(high)
    day = 0 if "T" in query else 86399  # a bare date means that whole day
    return ts(query), ts(query) + day


def run_matches(run: WorkflowRun, query: Any) -> bool:
    status = query.get("status")
    if status and status not in (run.status, run.conclusion):
        return False
    for name, value in (("event", run.event), ("branch", run.head_branch), ("head_sha", run.head_sha)):
        if query.get(name) and query[name] != value:
            return False
    if query.get("created"):
        low, high = parse_created(query["created"])
        return low <= int(run.created_at) <= high
    return True


def runs_page(call: RepoCall, workflow_id: int | None) -> Response:
    runs = [
        r
        for r in call.state.actions.runs.values()
        if r.repo == call.repo.full_name
        and workflow_id in (None, r.workflow_id)
        and run_matches(r, call.request.query_params)
    ]
    runs.sort(key=lambda r: r.id, reverse=True)
    return paginated(call, [run_json(call, r) for r in runs], "workflow_runs")


async def list_runs(request: Request) -> Response:
    return runs_page(repo_call(request), None)


async def list_workflow_runs(request: Request) -> Response:
    call = repo_call(request)
    return runs_page(call, spec_of(call).id)


async def get_run(request: Request) -> Response:
    call = repo_call(request)
    return call.ok(run_json(call, run_of(call, request.path_params["run_id"])))


async def cancel_run(request: Request) -> Response:
    """202 with `{}`, the run then ends cancelled; 409 once it has completed; 404 for another's run."""
    call = repo_call(request)
    require(call.token, "actions", "write")
    run = run_of(call, request.path_params["run_id"])
    if not actionruns.cancel_run(call.state, call.repo, run):
        raise ApiError(409, actionruns.CANNOT_CANCEL, documentation_url=CANCEL_DOCS)
    return call.ok({}, 202)


async def list_jobs(request: Request) -> Response:
    call = repo_call(request)
    run = run_of(call, request.path_params["run_id"])
    jobs = [call.state.actions.jobs[j] for j in run.job_ids]
    return paginated(call, [render_job(call.state.base_url, call.repo, run, j) for j in jobs], "jobs")


async def get_job(request: Request) -> Response:
    call = repo_call(request)
    job = call.state.actions.jobs.get(request.path_params["job_id"])
    if job is None:
        raise not_found()
    run = run_of(call, job.run_id)
    return call.ok(render_job(call.state.base_url, call.repo, run, job))


P = "/repos/{owner}/{repo}/actions"
ROUTES = [
    Route(f"{P}/workflows", list_workflows, methods=["GET"]),
    Route(f"{P}/workflows/{{workflow_id}}", get_workflow, methods=["GET"]),
    Route(f"{P}/workflows/{{workflow_id}}/dispatches", dispatch, methods=["POST"]),
    Route(f"{P}/workflows/{{workflow_id}}/runs", list_workflow_runs, methods=["GET"]),
    Route(f"{P}/runs", list_runs, methods=["GET"]),
    Route(f"{P}/runs/{{run_id:int}}", get_run, methods=["GET"]),
    Route(f"{P}/runs/{{run_id:int}}/cancel", cancel_run, methods=["POST"]),
    Route(f"{P}/runs/{{run_id:int}}/jobs", list_jobs, methods=["GET"]),
    Route(f"{P}/jobs/{{job_id:int}}", get_job, methods=["GET"]),
]
