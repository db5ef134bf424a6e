"""A bot PR was closed: merged (the fix was accepted) or not (rejected). Recorded in fix memory, so a
rejected fix is never offered again for its fingerprint, and in the repository's open-PR count. A
merged fix's merge commit is remembered, so a later revert of it on the default branch (a push whose
commit says "This reverts commit <sha>") turns the fix into a rejected one.

The fingerprint is read back from the branch name (`jobs.publish.naming.branch_name`), which the bot
chose from it, so no API call is needed and a PR whose body was edited still counts.

Each outcome is also counted in the stats by day (`prs:merged|closed|reverted`, app/stats.py), once per
PR (a redelivered event adds nothing), besides the running hash `PR_OUTCOMES_KEY` that /metrics shows.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

from app import stats
from app.audit import append_audit
from app.metrics import PR_OUTCOMES_KEY
from app.repo_state import RepoState
from jobs.patch.memory import FixMemory

MERGED = "autofix:merged:{repo_id}:{sha}"  # merge commit of a bot PR -> {"fingerprint", "number"}
MERGED_TTL_S = 365 * 86_400
_BRANCH = re.compile(r"(v\d+)-([0-9a-f]{16})(?:-for-.*)?$")


async def count_pr(redis: Redis, what: str, once: str) -> None:
    """`prs:{what}` today, once per `once` (the PR, or the reverted commit)."""
    await stats.apply(redis, stats.Counts().add(stats.day_of(time.time()), f"prs:{what}"), once=once)


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
    await cast("Awaitable[int]", redis.hincrby(PR_OUTCOMES_KEY, outcome, 1))
    await count_pr(redis, outcome, f"pr:{repo_id}:{number}:{outcome}")
    fingerprint = fingerprint_of_branch(prefix, str(request.get("head_ref") or ""))
    known = fingerprint is not None and await FixMemory(redis, repo_id).set_pr(fingerprint, number, outcome)
    merge_sha = request.get("merge_commit_sha")
    if fingerprint is not None and outcome == "merged" and merge_sha:
        fix = json.dumps({"fingerprint": fingerprint, "number": number})
        await redis.set(MERGED.format(repo_id=repo_id, sha=merge_sha), fix, ex=MERGED_TTL_S)
    await append_audit(
        redis, "pr.outcome", repo=request.get("repo"), number=number, outcome=outcome, fingerprint=fingerprint
    )
    return {"number": number, "outcome": outcome, "fingerprint": fingerprint, "remembered": known}


async def record_revert(redis: Redis, request: dict[str, Any]) -> dict[str, Any]:
    """Commits reverted on the default branch: those that merged a bot fix make that fix rejected."""
    repo_id = int(request["repo_id"])
    memory, rejected = FixMemory(redis, repo_id), []
    for sha in request.get("reverted") or []:
        raw = await redis.get(MERGED.format(repo_id=repo_id, sha=sha))
        if raw is None:
            continue
        fix = json.loads(raw)
        await memory.set_pr(fix["fingerprint"], int(fix["number"]), "reverted")
        await cast("Awaitable[int]", redis.hincrby(PR_OUTCOMES_KEY, "reverted", 1))
        await count_pr(redis, "reverted", f"revert:{repo_id}:{sha}")
        rejected.append(fix["fingerprint"])
        await append_audit(
            redis, "fix.reverted", repo=request.get("repo"), sha=sha, number=fix["number"],
            fingerprint=fix["fingerprint"], by=request.get("pusher"),
        )  # fmt: skip
    return {"rejected": rejected}
