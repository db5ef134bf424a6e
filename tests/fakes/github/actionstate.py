"""What the local GitHub knows about Actions: workflow runs, their jobs and artifacts, and blobs.

Workflows themselves are not stored: they are the `.github/workflows/*.yml` files of the default
branch, read when asked (ids are kept stable per path in `workflow_ids`). Logs and artifact zips are
served from `blobs`, short-lived URLs on another path of the same server, as GitHub serves them
from blob storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # state.py holds an `Actions`
    from tests.fakes.github.state import User

ACTIONS_APP_ID = 15368  # the GitHub Actions App, owner of every Actions check run
ACTIONS_APP_SLUG = "github-actions"
BLOB_TTL_S = 60  # GitHub's log and artifact download URLs live about a minute


@dataclass
class Job:
    id: int  # also the id of its check run, as on GitHub
    run_id: int
    name: str
    status: str = "queued"
    conclusion: str | None = None
    created_at: float = 0.0
    started_at: float = 0.0
    completed_at: float | None = None
    log: str | None = None


@dataclass
class Artifact:
    id: int
    run_id: int
    name: str
    data: bytes  # the zip
    created_at: float
    expires_at: float


@dataclass
class WorkflowRun:
    id: int
    repo: str  # full name
    workflow_id: int
    path: str  # .github/workflows/x.yml
    name: str  # the workflow's name
    display_title: str  # its `run-name:`, rendered
    event: str
    head_branch: str
    head_sha: str
    run_number: int
    actor: User
    created_at: float
    check_suite_id: int
    inputs: dict[str, str] = field(default_factory=dict)
    status: str = "queued"
    conclusion: str | None = None
    updated_at: float = 0.0
    run_started_at: float = 0.0
    job_ids: list[int] = field(default_factory=list)
    artifact_ids: list[int] = field(default_factory=list)


@dataclass
class Blob:
    data: bytes
    content_type: str
    expires_at: float


@dataclass
class Actions:
    workflow_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (repo, path) -> id
    runs: dict[int, WorkflowRun] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)  # key in /_blobs/{key} -> blob
    blob_ttl: float = BLOB_TTL_S
    artifact_retention_s: float = 90 * 86400
    sandbox: Any = None  # sandboxexec.SandboxFaults: how dispatched sandbox workflow runs misbehave
