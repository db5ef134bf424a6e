"""Workflow runs as state changes: start one (dispatch, or CI on a push), then complete it by script.

Each job has a check run with the same id and a `details_url` pointing at the job, owned by the
GitHub Actions App, as on GitHub. Completing a run completes its jobs (check_run.completed each)
and then the run (workflow_run.completed). Until issue 4's runner exists, results are scripted.
"""

from __future__ import annotations

import io
import zipfile

from tests.fakes.github import events, gitstore
from tests.fakes.github.actionshapes import job_html_url, render_run, render_workflow
from tests.fakes.github.actionstate import ACTIONS_APP_ID, ACTIONS_APP_SLUG, Artifact, Job, WorkflowRun
from tests.fakes.github.api_checks import apply
from tests.fakes.github.shapes import iso
from tests.fakes.github.state import App, CheckRun, GitHubState, Repo, User
from tests.fakes.github.workflows import WorkflowSpec, find_workflows


def actions_app(state: GitHubState) -> App:
    """The GitHub Actions App (registered on first use; it never authenticates here)."""
    with state.lock:
        if ACTIONS_APP_ID not in state.apps:
            state.apps[ACTIONS_APP_ID] = App(
                ACTIONS_APP_ID,
                ACTIONS_APP_SLUG,
                public_key="",
                name="GitHub Actions",
                description="Automate your workflow from idea to production",
                external_url="https://help.github.com/en/actions",
                owner_login="github",
                owner_id=9919,
                client_id="Iv1.05c79e9ad1f6bdfa",
            )
        return state.apps[ACTIONS_APP_ID]


def add_job(state: GitHubState, repo: Repo, run: WorkflowRun, name: str) -> Job:
    """A queued job, and its queued check run (same id)."""
    actions_app(state)
    job = Job(state.next_id(), run.id, name, created_at=state.clock())
    check = CheckRun(job.id, repo.full_name, run.head_sha, name, ACTIONS_APP_ID, run.check_suite_id)
    check.started_at, check.details_url, check.head_branch = (
        job.created_at,
        job_html_url(repo, job),
        run.head_branch,
    )
    with state.lock:
        state.actions.jobs[job.id] = job
        state.check_runs[job.id] = check
        run.job_ids.append(job.id)
    return job


def start_run(
    state: GitHubState,
    repo: Repo,
    spec: WorkflowSpec,
    branch: str,
    event: str,
    actor: User,
    inputs: dict[str, str],
    display_title: str,
    head_sha: str | None = None,
) -> WorkflowRun:
    """A queued run of `spec` on `branch` (its head, or `head_sha`), with the workflow's jobs queued."""
    head_sha = head_sha or gitstore.rev_parse(repo.path, f"refs/heads/{branch}")
    assert head_sha is not None, f"no commit for {branch}"
    with state.lock:
        number = 1 + sum(1 for r in state.actions.runs.values() if r.workflow_id == spec.id)
        run = WorkflowRun(
            state.next_id(), repo.full_name, spec.id, spec.path, spec.name, display_title, event,
            branch, head_sha, number, actor, state.clock(), state.next_id(), dict(inputs),
        )  # fmt: skip
        state.actions.runs[run.id] = run
    for name in spec.jobs:
        add_job(state, repo, run, name)
    return run


def build_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def default_log(job: Job, conclusion: str, now: float) -> str:
    stamp = iso(now)
    return f"{stamp} ##[group]Run {job.name}\n{stamp} ##[endgroup]\n{stamp} Job {job.name}: {conclusion}\n"


def complete_run(
    state: GitHubState,
    repo: Repo,
    run: WorkflowRun,
    conclusion: str,
    logs: dict[str, str] | None = None,
    artifacts: dict[str, dict[str, bytes]] | None = None,
) -> None:
    """Finish `run` and all its jobs with `conclusion` (jobs named in `logs` are added if missing)."""
    now = state.clock()
    known = {state.actions.jobs[j].name for j in run.job_ids}
    for name in [n for n in logs or {} if n not in known] or ([] if run.job_ids else ["build"]):
        add_job(state, repo, run, name)
    for job in [state.actions.jobs[j] for j in run.job_ids]:
        job.status, job.conclusion, job.completed_at = "completed", conclusion, now
        job.started_at = job.started_at or job.created_at
        job.log = (logs or {}).get(job.name) or default_log(job, conclusion, now)
        apply(state, repo, state.check_runs[job.id], {"conclusion": conclusion}, run.actor)
    for name, files in (artifacts or {}).items():
        expires = now + state.actions.artifact_retention_s
        artifact = Artifact(state.next_id(), run.id, name, build_zip(files), now, expires)
        state.actions.artifacts[artifact.id] = artifact
        run.artifact_ids.append(artifact.id)
    run.status, run.conclusion, run.updated_at = "completed", conclusion, now
    emit_run(state, repo, run, "completed")


CANNOT_CANCEL = "Cannot cancel a workflow run that is completed."


def cancel_run(state: GitHubState, repo: Repo, run: WorkflowRun) -> bool:
    """Cancel a queued or running run as GitHub does after `POST …/cancel`: its unfinished jobs and
    the run end `cancelled` (check_run and workflow_run `completed` sent). False if it had ended."""
    with state.lock:
        if run.status == "completed":
            return False
        complete_run(state, repo, run, "cancelled")
    return True


def emit_run(state: GitHubState, repo: Repo, run: WorkflowRun, action: str) -> None:
    spec = next((s for s in find_workflows(state, repo) if s.id == run.workflow_id), None)
    spec = spec or WorkflowSpec(run.workflow_id, run.path, run.name, None, False)
    api = state.base_url
    events.emit(
        state,
        "workflow_run",
        action,
        repo,
        run.actor,
        workflow=render_workflow(api, repo, spec, repo.created_at),
        workflow_run=render_run(api, repo, run, gitstore.read_commit(repo.path, run.head_sha)),
    )
