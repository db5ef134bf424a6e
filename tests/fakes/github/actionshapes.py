"""Pure renderers for Actions: workflows, workflow runs, jobs, artifacts (REST and webhook shapes)."""

from __future__ import annotations

from typing import Any

from tests.fakes.github.actionstate import Artifact, Job, WorkflowRun
from tests.fakes.github.gitstore import CommitInfo
from tests.fakes.github.shapes import iso, node_id, render_repo, render_user
from tests.fakes.github.state import Repo
from tests.fakes.github.workflows import WorkflowSpec


def render_workflow(api: str, repo: Repo, spec: WorkflowSpec, created_at: float) -> dict[str, Any]:
    file = spec.path.rsplit("/", 1)[-1]
    return {
        "id": spec.id,
        "node_id": node_id("Workflow", spec.id),
        "name": spec.name,
        "path": spec.path,
        "state": "active",
        "created_at": iso(created_at),
        "updated_at": iso(created_at),
        "url": f"{api}/repos/{repo.full_name}/actions/workflows/{spec.id}",
        "html_url": f"https://github.com/{repo.full_name}/blob/{repo.default_branch}/{spec.path}",
        "badge_url": f"https://github.com/{repo.full_name}/workflows/{file}/badge.svg",
    }


def render_head_commit(commit: CommitInfo) -> dict[str, Any]:
    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "message": commit.message.rstrip("\n"),
        "timestamp": iso(commit.committer.date),
        "author": {"name": commit.author.name, "email": commit.author.email},
        "committer": {"name": commit.committer.name, "email": commit.committer.email},
    }


def render_run(api: str, repo: Repo, run: WorkflowRun, head_commit: CommitInfo) -> dict[str, Any]:
    """A workflow run (`WorkflowRun`), as the REST API and the workflow_run webhooks carry it."""
    url = f"{api}/repos/{repo.full_name}/actions/runs/{run.id}"
    return {
        "id": run.id,
        "name": run.name,
        "node_id": node_id("WorkflowRun", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.check_suite_id,
        "check_suite_node_id": node_id("CheckSuite", run.check_suite_id),
        "url": url,
        "html_url": f"https://github.com/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at or run.created_at),
        "actor": render_user(api, run.actor),
        "triggering_actor": render_user(api, run.actor),
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": iso(run.run_started_at or run.created_at),
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/repos/{repo.full_name}/check-suites/{run.check_suite_id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{api}/repos/{repo.full_name}/actions/workflows/{run.workflow_id}",
        "head_commit": render_head_commit(head_commit),
        "repository": render_repo(api, repo),
        "head_repository": render_repo(api, repo),
    }


def job_html_url(repo: Repo, job: Job) -> str:
    """Where GitHub shows a job; also its check run's `details_url`."""
    return f"https://github.com/{repo.full_name}/actions/runs/{job.run_id}/job/{job.id}"


def render_job(api: str, repo: Repo, run: WorkflowRun, job: Job) -> dict[str, Any]:
    done = job.status == "completed"
    return {
        "id": job.id,
        "run_id": run.id,
        "run_url": f"{api}/repos/{repo.full_name}/actions/runs/{run.id}",
        "run_attempt": 1,
        "node_id": node_id("CheckRun", job.id),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": f"{api}/repos/{repo.full_name}/actions/jobs/{job.id}",
        "html_url": job_html_url(repo, job),
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at or job.created_at),
        "completed_at": iso(job.completed_at),
        "name": job.name,
        "steps": [],
        "check_run_url": f"{api}/repos/{repo.full_name}/check-runs/{job.id}",
        "labels": ["ubuntu-latest"],
        "runner_id": 1 if done else None,
        "runner_name": "GitHub Actions 1" if done else None,
        "runner_group_id": 0 if done else None,
        "runner_group_name": "GitHub Actions" if done else None,
        "workflow_name": run.name,
    }


def render_artifact(api: str, repo: Repo, run: WorkflowRun, artifact: Artifact, now: float) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/actions/artifacts/{artifact.id}"
    return {
        "id": artifact.id,
        "node_id": node_id("Artifact", artifact.id),
        "name": artifact.name,
        "size_in_bytes": len(artifact.data),
        "url": url,
        "archive_download_url": f"{url}/zip",
        "expired": artifact.expires_at <= now,
        "created_at": iso(artifact.created_at),
        "updated_at": iso(artifact.created_at),
        "expires_at": iso(artifact.expires_at),
        "workflow_run": {
            "id": run.id,
            "repository_id": repo.id,
            "head_repository_id": repo.id,
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
        },
    }
