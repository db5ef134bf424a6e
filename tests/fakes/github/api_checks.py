"""Check runs: create, update (completion announces check_run.completed), get, list for a ref."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, gitstore
from tests.fakes.github.auth import require
from tests.fakes.github.errors import invalid, not_found
from tests.fakes.github.http import repo_call
from tests.fakes.github.shapes import iso, node_id, render_app
from tests.fakes.github.state import CheckRun, GitHubState, Repo, User

FIELDS = ("name", "details_url", "external_id", "status", "conclusion", "output")


def render_check_run(state: GitHubState, repo: Repo, run: CheckRun) -> dict[str, Any]:
    api = state.base_url
    url = f"{api}/repos/{repo.full_name}/check-runs/{run.id}"
    output = {"title": None, "summary": None, "text": None} | {
        k: v for k, v in run.output.items() if k in ("title", "summary", "text")
    }
    annotations = len(run.output.get("annotations") or [])
    return {
        "id": run.id,
        "node_id": node_id("CheckRun", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": url,
        "html_url": f"https://github.com/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url or state.apps[run.app_id].external_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": output | {"annotations_count": annotations, "annotations_url": f"{url}/annotations"},
        "name": run.name,
        "check_suite": {"id": run.suite_id},
        "app": render_app(api, state.apps[run.app_id]),
        "pull_requests": [],
    }


def apply(state: GitHubState, repo: Repo, run: CheckRun, body: dict[str, Any], sender: User) -> None:
    """Set fields from a create/update body; completing the run sends check_run.completed."""
    was_completed = run.status == "completed"
    for name in FIELDS:
        if name in body and body[name] is not None:
            setattr(run, name, body[name])
    if body.get("conclusion") and run.status != "completed":
        run.status = "completed"  # GitHub: a conclusion implies completion
    if run.status == "completed" and not was_completed:
        run.completed_at = state.clock()
        run.conclusion = run.conclusion or "neutral"
        events.emit(
            state, "check_run", "completed", repo, sender, check_run=render_check_run(state, repo, run)
        )


async def create_check_run(request: Request) -> Response:
    call = repo_call(request)
    require(call.token, "checks", "write")
    body = await call.body()
    sha, name = body.get("head_sha"), body.get("name")
    if not name or not isinstance(sha, str) or gitstore.object_type(call.repo.path, sha) != "commit":
        raise invalid(f"No commit found for SHA: {sha}", "CheckRun", "head_sha", "invalid")
    app_id = call.state.installations[call.token.installation_id].app_id
    run = CheckRun(call.state.next_id(), call.repo.full_name, sha, name, app_id, call.state.next_id())
    run.started_at = call.state.clock()
    with call.state.lock:
        call.state.check_runs[run.id] = run
    apply(call.state, call.repo, run, body, events.actor(call.state, call.token))
    return call.ok(render_check_run(call.state, call.repo, run), 201)


def run_of(state: GitHubState, repo: Repo, check_run_id: int) -> CheckRun:
    run = state.check_runs.get(check_run_id)
    if run is None or run.repo != repo.full_name:
        raise not_found()
    return run


async def get_check_run(request: Request) -> Response:
    call = repo_call(request)
    run = run_of(call.state, call.repo, request.path_params["check_run_id"])
    return call.ok(render_check_run(call.state, call.repo, run))


async def update_check_run(request: Request) -> Response:
    call = repo_call(request)
    require(call.token, "checks", "write")
    run = run_of(call.state, call.repo, request.path_params["check_run_id"])
    apply(call.state, call.repo, run, await call.body(), events.actor(call.state, call.token))
    return call.ok(render_check_run(call.state, call.repo, run))


async def list_for_ref(request: Request) -> Response:
    call = repo_call(request)
    sha = gitstore.rev_parse(call.repo.path, request.path_params["ref"])
    if sha is None:
        raise not_found()
    name = request.query_params.get("check_name")
    runs = [
        r
        for r in call.state.check_runs.values()
        if r.repo == call.repo.full_name and r.head_sha == sha and (name is None or r.name == name)
    ]
    rendered = [render_check_run(call.state, call.repo, r) for r in sorted(runs, key=lambda r: -r.id)]
    return call.ok({"total_count": len(rendered), "check_runs": rendered})


P = "/repos/{owner}/{repo}"
ROUTES = [
    Route(f"{P}/check-runs", create_check_run, methods=["POST"]),
    Route(f"{P}/check-runs/{{check_run_id:int}}", get_check_run, methods=["GET"]),
    Route(f"{P}/check-runs/{{check_run_id:int}}", update_check_run, methods=["PATCH"]),
    Route(f"{P}/commits/{{ref:path}}/check-runs", list_for_ref, methods=["GET"]),
]
