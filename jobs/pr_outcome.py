"""A bot PR was closed: merged (the fix was accepted) or not (rejected). Recorded in fix memory, so a
rejected fix is never offered again for its fingerprint, and in the repository's open-PR count.

The fingerprint is read back from the branch name (`jobs.publish.naming.branch_name`), which the bot
chose from it, so no API call is needed and a PR whose body was edited still counts.
"""

from __future__ import annotations

import re
from typing import Any

from redis.asyncio import Redis

from app.audit import append_audit
from jobs.patch.memory import FixMemory
from jobs.repo_state import RepoState

_BRANCH = re.compile(r"(v\d+)-([0-9a-f]{16})(?:-for-.*)?$")


def fingerprint_of_branch(prefix: str, ref: str) -> str | None:
    """`autofix/v1-0123456789abcdef[-for-x]` -> `v1:0123456789abcdef`; None for any other branch."""
    if not ref.startswith(prefix):
        return None
    match = _BRANCH.fullmatch(ref[len(prefix) :])
    return f"{match.group(1)}:{match.group(2)}" if match else None


async def record_pr_outcome(redis: Redis, request: dict[str, Any], prefix: str) -> dict[str, Any]:
    repo_id, number = int(request["repo_id"]), int(request["number"])
    outcome = "merged" if request.get("merged") else "closed"
    await RepoState(redis, repo_id).remove_open_pr(number)
    fingerprint = fingerprint_of_branch(prefix, str(request.get("head_ref") or ""))
    known = fingerprint is not None and await FixMemory(redis, repo_id).set_pr(fingerprint, number, outcome)
    await append_audit(
        redis, "pr.outcome", repo=request.get("repo"), number=number, outcome=outcome, fingerprint=fingerprint
    )
    return {"number": number, "outcome": outcome, "fingerprint": fingerprint, "remembered": known}
