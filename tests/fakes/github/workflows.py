"""Workflow files: `.github/workflows/*.yml` on the default branch, parsed for what dispatch needs.

`parse_workflow` and `render_run_name` are pure; `find_workflows` reads the bare repository.
PyYAML comes with uvicorn[standard].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.fakes.github import gitstore
from tests.fakes.github.state import GitHubState, Repo

WORKFLOWS_DIR = ".github/workflows"
_EXPRESSION = re.compile(r"\$\{\{\s*(?:github\.event\.)?inputs\.([A-Za-z0-9_-]+)\s*\}\}")


@dataclass(frozen=True)
class WorkflowSpec:
    id: int
    path: str
    name: str
    run_name: str | None
    dispatchable: bool
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {required, default, …}
    jobs: list[str] = field(default_factory=list)  # display names


def parse_workflow(workflow_id: int, path: str, text: str) -> WorkflowSpec:
    """The parts of a workflow file the local GitHub uses (a broken file gives a bare spec)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        return WorkflowSpec(workflow_id, path, path, None, False)
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    dispatch = _trigger(triggers, "workflow_dispatch")
    inputs = (dispatch or {}).get("inputs") or {}
    jobs = [
        str(job.get("name") or key) if isinstance(job, dict) else str(key)
        for key, job in (data.get("jobs") or {}).items()
    ]
    return WorkflowSpec(
        workflow_id,
        path,
        str(data.get("name") or path),
        data.get("run-name"),
        dispatch is not None,
        {str(k): v or {} for k, v in inputs.items()},
        jobs,
    )


def _trigger(triggers: Any, event: str) -> dict[str, Any] | None:
    """The trigger's settings ({} when listed bare), or None when the workflow lacks it."""
    if triggers == event:
        return {}
    if isinstance(triggers, list):
        return {} if event in triggers else None
    if isinstance(triggers, dict) and event in triggers:
        return triggers[event] or {}
    return None


def render_run_name(spec: WorkflowSpec, inputs: dict[str, str]) -> str:
    """The run's title: `run-name:` with `${{ inputs.x }}` filled in, else the workflow's name."""
    if not spec.run_name:
        return spec.name
    return _EXPRESSION.sub(lambda m: str(inputs.get(m.group(1), "")), spec.run_name)


def workflow_id(state: GitHubState, repo: Repo, path: str) -> int:
    with state.lock:
        key = (repo.full_name, path)
        if key not in state.actions.workflow_ids:
            state.actions.workflow_ids[key] = state.next_id()
        return state.actions.workflow_ids[key]


def find_workflows(state: GitHubState, repo: Repo) -> list[WorkflowSpec]:
    """Every workflow file on the default branch."""
    head = gitstore.rev_parse(repo.path, f"refs/heads/{repo.default_branch}")
    if head is None:
        return []
    try:
        entries = gitstore.list_tree(repo.path, head, WORKFLOWS_DIR + "/")
    except gitstore.GitError:
        return []
    specs = []
    for entry in entries:
        if entry.type == "blob" and entry.path.endswith((".yml", ".yaml")):
            path = f"{WORKFLOWS_DIR}/{entry.path}"
            text = gitstore.read_blob(repo.path, entry.sha).decode(errors="replace")
            specs.append(parse_workflow(workflow_id(state, repo, path), path, text))
    return specs


def find_workflow(state: GitHubState, repo: Repo, wanted: str) -> WorkflowSpec | None:
    """The workflow named by its file name (`sandbox.yml`) or its numeric id."""
    for spec in find_workflows(state, repo):
        if wanted in (spec.path.rsplit("/", 1)[-1], str(spec.id)):
            return spec
    return None
