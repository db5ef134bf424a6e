"""What the gate and the publish step need to know about a failed check, asked of GitHub and Redis.

`fetch_target` works out where a fix would go: the default branch, a same-repository PR's branch, or
(for a fork's PR) nowhere (suggestions only). `fetch_gate_facts` gathers the rest of `GateFacts`.
All I/O; the decisions are in jobs/gate.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.budgets import BudgetLedger
from app.github.client import Installation
from app.github.contents import fetch_default_branch
from app.github.errors import NotFound
from app.github.git_data import fetch_branch_sha
from app.github.pulls import PullRequest, fetch_pr, find_open_pr, find_prs_for_commit
from app.repo_state import RepoState
from jobs.gate import GateFacts
from jobs.patch.memory import FixMemory
from jobs.publish.naming import branch_name
from jobs.publish.state_block import parse_state
from sandbox_runner.report import FailureReport


@dataclass(frozen=True)
class Target:
    default_branch: str
    branch: str | None  # the failing commit's branch
    pr: PullRequest | None  # the PR whose check failed
    fork: bool

    @property
    def base_branch(self) -> str:
        """Where the fix PR goes: the broken PR's branch, else the default branch."""
        return self.pr.head_ref if self.pr is not None and not self.fork else self.default_branch

    @property
    def fixing_a_pr(self) -> bool:
        return self.pr is not None and not self.fork

    def bot_branch(self, prefix: str, fingerprint: str) -> str:
        return branch_name(prefix, fingerprint, self.pr.head_ref if self.fixing_a_pr and self.pr else None)


async def fetch_target(inst: Installation, owner: str, repo: str, request: dict[str, Any]) -> Target:
    default = await fetch_default_branch(inst, owner, repo)
    pr = None
    for number in request.get("pull_requests") or []:
        pr = await fetch_pr(inst, owner, repo, int(number))
        if pr.state == "open":
            break
    if pr is None and request.get("head_branch") != default:  # a fork's commit lists no PRs: ask
        found = await find_prs_for_commit(inst, owner, repo, str(request["head_sha"]))
        pr = next((p for p in found if p.state == "open"), None)
    fork = pr is not None and pr.from_fork(f"{owner}/{repo}")
    return Target(default, request.get("head_branch"), pr, fork)


async def _newer_commit(inst: Installation, owner: str, repo: str, target: Target, head_sha: str) -> bool:
    if target.fork or not target.branch:
        return False  # a fork's branch is not ours to read here; its PR head is checked instead
    if target.pr is not None and target.pr.head_sha and target.pr.head_sha != head_sha:
        return True
    try:
        return await fetch_branch_sha(inst, owner, repo, target.branch) != head_sha
    except NotFound:  # the branch was deleted: nothing left to fix
        return True


async def fetch_gate_facts(
    inst: Installation,
    owner: str,
    repo: str,
    *,
    request: dict[str, Any],
    report: FailureReport,
    target: Target,
    state: RepoState,
    ledger: BudgetLedger,
    memory: FixMemory,
    bot_app_id: int | None,
    branch_prefix: str,
    check_app_id: int | None = None,
    job_id: str | None = None,
    circuit_open: str | None = None,
    resuming: bool = False,
) -> GateFacts:
    fingerprint = report.fingerprint
    open_pr = await find_open_pr(inst, owner, repo, target.bot_branch(branch_prefix, fingerprint))
    ours = open_pr is not None and (parse_state(open_pr.body) or {}).get("job_id") == job_id
    if ours and resuming:
        open_pr = None  # this job opened it before a crash: carry on and finish what it started
    usage = await ledger.usage()
    return GateFacts(
        kind="check",
        repo_paused=await state.paused(),
        check_name=request.get("check_name"),
        check_app_id=check_app_id,
        check_app=request.get("check_app"),
        branch=target.branch,
        is_default_branch=target.branch == target.default_branch,
        pr_number=target.pr.number if target.pr else None,
        pr_from_fork=target.fork,
        failure_class=report.failure_class,
        fixable=report.fixable,
        newer_commit_on_branch=await _newer_commit(inst, owner, repo, target, str(request["head_sha"])),
        fingerprint=fingerprint,
        open_bot_pr_for_fingerprint=open_pr.number if open_pr else None,
        fingerprint_rejected=await memory.is_rejected(fingerprint),
        fingerprint_ignored=await state.is_ignored(fingerprint),
        jobs_last_hour=usage.jobs_last_hour,
        jobs_today=usage.jobs_today,
        dollars_today=usage.dollars_today,
        dollars_this_month=usage.dollars_this_month,
        open_bot_prs=await state.open_prs(),
        bot_app_id=bot_app_id,
        branch_prefix=branch_prefix,
        circuit_open=circuit_open,
    )
