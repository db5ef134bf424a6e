"""`autofix rebuild-state`: the decisions Redis held, rebuilt from GitHub, so losing Redis loses none.

Every bot PR carries a hidden state block (jobs/publish/state_block.py: fingerprint, job id, source,
attempt, base). From the open and recently closed bot PRs of every installed repository this puts
back what the gate and the commands rely on:

- an open bot PR counts against `limits.max_open_prs` again, and `/autofix` commands find its job;
- a PR closed unmerged marks its fingerprint rejected, so the same fix is never offered again;
- a merged PR's merge commit is remembered, so a later revert of it still counts as a rejection;
- each PR's job gets a record (outcome `pr_opened`) if it has none, so retries and `/autofix status`
  see it.

What cannot be rebuilt is said plainly: budgets spent and queued jobs (reconciliation re-creates jobs
for failures that still stand). `plan_restores` is pure; `rebuild_state` is the I/O around it.
Nothing is overwritten: a record Redis still has is kept.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.github.rest import fetch_pages
from app.job_records import JobRecord, JobStore
from app.repo_state import RepoState
from app.settings import Settings
from jobs.patch.memory import KEY as MEMORY_KEY
from jobs.pr_outcome import MERGED, MERGED_TTL_S
from jobs.publish.state_block import parse_state
from jobs.reconcile import _repositories

log = logging.getLogger("autofix.rebuild")
Json = dict[str, Any]
KINDS = {"check": "fix_check_run", "issue": "fix_issue"}
MAX_PR_PAGES = 5  # per repository, newest first


@dataclass(frozen=True)
class Restore:
    """What one bot PR says about the state Redis should hold."""

    repo_id: int
    repo: str
    number: int
    state: str  # "open" | "merged" | "closed"
    fingerprint: str | None
    job_id: str | None
    kind: str
    merge_sha: str | None = None
    updated_at: float = 0.0


@dataclass
class Rebuilt:
    repositories: int = 0
    pull_requests: int = 0
    open_prs: int = 0
    rejected: int = 0
    merged: int = 0
    job_records: int = 0
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"repositories read      {self.repositories}",
            f"bot pull requests      {self.pull_requests}",
            f"open PRs counted       {self.open_prs}",
            f"rejected fixes         {self.rejected}",
            f"merged fixes           {self.merged}",
            f"job records added      {self.job_records}",
            *(f"skipped: {s}" for s in self.skipped),
            "not rebuilt: budgets already spent, and queued jobs (reconciliation re-creates jobs for "
            "failures that still stand)",
        ]


def _timestamp(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def plan_restores(
    repo: Json, pulls: Iterable[Json], prefix: str, since: float
) -> tuple[list[Restore], list[str]]:
    """The restores the bot PRs of `repo` call for, and why any PR was skipped."""
    restores, skipped = [], []
    for pr in pulls:
        head = str((pr.get("head") or {}).get("ref") or "")
        if not head.startswith(prefix):
            continue
        number = int(pr["number"])
        updated = _timestamp(pr.get("updated_at"))
        if pr.get("state") != "open" and updated < since:
            continue
        state = parse_state(pr.get("body"))
        if state is None:
            skipped.append(f"{repo['full_name']}#{number}: no readable state block")
            continue
        merged = bool(pr.get("merged_at"))
        restores.append(
            Restore(
                repo_id=int(repo["id"]),
                repo=str(repo["full_name"]),
                number=number,
                state="open" if pr.get("state") == "open" else ("merged" if merged else "closed"),
                fingerprint=str(state["fingerprint"]) if state.get("fingerprint") else None,
                job_id=str(state["job_id"]) if state.get("job_id") else None,
                kind=KINDS.get(str(state.get("source")), "fix_check_run"),
                merge_sha=pr.get("merge_commit_sha") if merged else None,
                updated_at=updated,
            )
        )
    return restores, skipped


async def apply_restore(redis: Redis, restore: Restore, summary: Rebuilt) -> None:
    state = RepoState(redis, restore.repo_id)
    if restore.state == "open":
        await state.add_open_pr(restore.number)
        summary.open_prs += 1
    elif restore.fingerprint and restore.state == "closed":
        rejections = MEMORY_KEY.format(repo_id=restore.repo_id) + ":rejected"
        await cast("Awaitable[int]", redis.sadd(rejections, restore.fingerprint))
        summary.rejected += 1
    elif restore.fingerprint and restore.state == "merged" and restore.merge_sha:
        fix = json.dumps({"fingerprint": restore.fingerprint, "number": restore.number})
        key = MERGED.format(repo_id=restore.repo_id, sha=restore.merge_sha)
        await redis.set(key, fix, ex=MERGED_TTL_S, nx=True)
        summary.merged += 1
    if restore.job_id:
        store = JobStore(redis)
        if await store.get(restore.job_id) is None:
            now = time.time()
            record = JobRecord(
                restore.job_id,
                restore.kind,
                restore.repo,
                restore.updated_at or now,
                now,
                status="done",
                outcome="pr_opened",
                reason=f"rebuilt from pull request #{restore.number} ({restore.state})",
                request={"repo_id": restore.repo_id, "repo": restore.repo, "pr": restore.number},
            )
            await store.save(record)
            summary.job_records += 1


async def rebuild_state(
    app: GitHubApp, redis: Redis, settings: Settings, *, days: int = 30, now: float | None = None
) -> Rebuilt:
    since = (
        datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(days=days)
    ).timestamp()
    summary = Rebuilt()
    async for installation_id, repo in _repositories(app):
        summary.repositories += 1
        inst = app.installation(installation_id)
        params = {"state": "all", "sort": "updated", "direction": "desc"}
        pulls = [
            pr
            async for pr in fetch_pages(
                inst.read, f"/repos/{repo['full_name']}/pulls", params, max_pages=MAX_PR_PAGES
            )
        ]
        restores, skipped = plan_restores(repo, pulls, settings.autofix_branch_prefix, since)
        summary.skipped += skipped
        for restore in restores:
            summary.pull_requests += 1
            await apply_restore(redis, restore, summary)
    log.info("state rebuilt: %s", "; ".join(summary.lines()[:6]))
    return summary
