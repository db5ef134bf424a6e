"""GitHub's guard on workflow files: an App whose token lacks `workflows: write` cannot move a ref
(Git Data API `POST/PATCH …/git/refs`, or a git push) to commits that create or change a file under
`.github/workflows/`. The REST API answers 422, git push rejects the ref, both with this wording:

    refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without
    `workflows` permission

Installation permissions are read from the token (its own, possibly narrowed, set), never changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.fakes.github import gitstore
from tests.fakes.github.auth import LEVELS
from tests.fakes.github.state import Repo, Token
from tests.fakes.github.workflow_hook import REFUSAL_ENV

HOOK = Path(__file__).resolve().with_name("workflow_hook.py")

REFUSED = (
    "refusing to allow a GitHub App to create or update workflow `{path}` without `workflows` permission"
)


def may_write_workflows(token: Token) -> bool:
    return LEVELS.get(token.permissions.get("workflows", "none"), 0) >= LEVELS["write"]


def refusal(repo: Repo, token: Token, sha: str) -> str | None:
    """GitHub's message when `token` may not move a ref of `repo` to `sha`, else None."""
    if may_write_workflows(token):
        return None
    written = gitstore.introduced_workflow_writes(repo.path, sha)
    return REFUSED.format(path=written[0]) if written else None


def push_guard_env(git_root: Path) -> dict[str, str]:
    """The environment that makes `git http-backend` hand every ref a push creates or moves to
    workflow_hook.py (git's proc-receive hook), so refused refs get GitHub's reason and the rest
    go through; deletions take git's own path."""
    hooks = git_root / ".hooks"
    script = hooks / "proc-receive"
    if not script.exists():
        hooks.mkdir(exist_ok=True)
        partial = hooks / f"proc-receive.{os.getpid()}.tmp"
        partial.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HOOK}"\n')
        partial.chmod(0o755)
        partial.replace(script)
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
        "GIT_CONFIG_KEY_1": "receive.procReceiveRefs",
        "GIT_CONFIG_VALUE_1": "am:refs",  # created or moved refs; a deletion brings in nothing
        REFUSAL_ENV: REFUSED,
    }
