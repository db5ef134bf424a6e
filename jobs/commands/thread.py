"""The thread a command was written in: a bot PR (its hidden state block), or the issue or PR a
fix came from, and the fix jobs that belong to it (newest first).

A job belongs to thread N when it is the job named in N's state block, when its request names N
(`pull_requests` of a failed check, `issue_number` of an issue, `threads` of a command's retry), or,
on a bot PR, when it fixed the same fingerprint. `select_jobs` is pure; `fetch_thread` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.github.client import Installation
from app.github.pulls import PullRequest, fetch_pr
from app.job_records import JobRecord, JobStore
from jobs.publish.state_block import parse_state

FIX_KINDS = frozenset({"fix_check_run", "fix_issue"})
SCAN = 500  # recent job records looked through


@dataclass(frozen=True)
class Thread:
    number: int
    pr: PullRequest | None = None  # when the thread is a pull request
    state: dict[str, Any] | None = None  # the bot PR's state block (None: not a bot PR)
    jobs: list[JobRecord] = field(default_factory=list)

    @property
    def bot_pr(self) -> bool:
        return self.state is not None

    @property
    def latest(self) -> JobRecord | None:
        return self.jobs[0] if self.jobs else None

    @property
    def diagnosed(self) -> JobRecord | None:
        """The job whose diagnosis to show: the one that made this bot PR, else the newest that got
        past the gate (a duplicate skipped at the gate has nothing to explain), else the newest."""
        named = str(self.state.get("job_id")) if self.state else None
        for record in self.jobs:
            if record.job_id == named:
                return record
        return next((r for r in self.jobs if r.phase_named("reproduce")), self.latest)

    @property
    def fingerprint(self) -> str | None:
        if self.state and self.state.get("fingerprint"):
            return str(self.state["fingerprint"])
        for record in self.jobs:
            found = job_fingerprint(record)
            if found:
                return found
        return None

    def numbers(self) -> list[int]:
        """The thread and, for a bot PR, the issue it fixes."""
        issue = self.state.get("issue") if self.state else None
        return [self.number] + ([int(issue)] if isinstance(issue, int) else [])


def job_fingerprint(record: JobRecord) -> str | None:
    report = record.checkpoints.get("report")
    if isinstance(report, dict) and report.get("fingerprint"):
        return str(report["fingerprint"])
    for phase in record.phases:
        if phase.detail.get("fingerprint"):
            return str(phase.detail["fingerprint"])
    return None


def request_threads(request: dict[str, Any]) -> set[int]:
    numbers = {n for n in request.get("pull_requests") or [] if isinstance(n, int)}
    numbers |= {n for n in request.get("threads") or [] if isinstance(n, int)}
    if isinstance(request.get("issue_number"), int):
        numbers.add(int(request["issue_number"]))
    return numbers


def select_jobs(
    records: list[JobRecord], repo: str, number: int, state: dict[str, Any] | None
) -> list[JobRecord]:
    """The fix jobs of thread `number` among `records`, newest first."""
    named = str(state.get("job_id")) if state else None
    fingerprint = str(state.get("fingerprint")) if state and state.get("fingerprint") else None
    issue = state.get("issue") if state else None
    out = []
    for record in records:
        if record.kind not in FIX_KINDS or record.repo.lower() != repo.lower():
            continue
        threads = request_threads(record.request)
        if (
            record.job_id == named
            or number in threads
            or (isinstance(issue, int) and issue in threads)
            or (fingerprint is not None and job_fingerprint(record) == fingerprint)
        ):
            out.append(record)
    return sorted(out, key=lambda r: r.created_at, reverse=True)


def is_bot_pr(pr: PullRequest, prefix: str) -> dict[str, Any] | None:
    """The state block of a bot PR (our branch prefix and a block we can read), else None."""
    return parse_state(pr.body) if pr.head_ref.startswith(prefix) else None


async def fetch_thread(
    inst: Installation, store: JobStore, *, owner: str, repo: str, number: int, is_pr: bool, prefix: str
) -> Thread:
    pr = await fetch_pr(inst, owner, repo, number) if is_pr else None
    state = is_bot_pr(pr, prefix) if pr is not None else None
    records = await store.recent(SCAN)
    return Thread(number, pr, state, select_jobs(records, f"{owner}/{repo}", number, state))
