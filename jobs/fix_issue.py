"""fix_issue: an issue labelled `autofix` becomes a PR that fixes it and proves it with a new test.

Evidence from the issue (text, quoted tracebacks, referenced files) → gate → workspace → localize →
reproduce: the model writes a test that must fail on the current code, and the sandbox proves it does
→ propose fixes on top of that test → validate: the new test passes and nothing that passed with it
fails → publish a PR "Fixes #N" that includes the test. Without a proven reproduction, the repo
config decides: a diagnosis comment (default) or a draft PR marked unproven.

Whoever queued the job (the labeller, or the commenter of `/autofix`, `retry`, `revise`) is asked
for again when it starts: someone whose permission was taken away meanwhile gets nothing done (F9).
An issue written by someone without write access is fixed the same way, as a draft PR (F3).
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.artefacts import JobArtefacts
from app.budgets import BudgetLedger, build_installation_budget
from app.github.client import Installation
from app.github.contents import fetch_default_branch, read_repo_config
from app.github.conversation import IssueText, fetch_issue, fetch_permission, upsert_sticky_comment
from app.github.git_auth import clone_url
from app.github.git_data import fetch_branch_sha
from app.github.pulls import find_open_pr
from app.job_records import JobRecord, JobStore, PhaseRecord
from app.notify import notify_finished
from app.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from app.repo_state import RepoState
from jobs import names
from jobs.artefact_writer import save_repair
from jobs.breakers import count_run
from jobs.commands.control import STOPPED, fetch_raised_cap, stop_requested
from jobs.commands.guidance import for_command, render_guidance, with_thread_budget
from jobs.commands.issue_revision import revise_issue_pr
from jobs.commands.permissions import can_write, needed_to_trigger
from jobs.commands.revision import Revise
from jobs.deps import Deps, deps_of, sandbox_limits
from jobs.evidence import issue_evidence
from jobs.fix_check import Stop
from jobs.gate import GateFacts, decide_gate
from jobs.issue_attempt import IssueAttempt
from jobs.patch.context import Usage
from jobs.patch.workspace import open_workspace
from jobs.publish.reporter import StatusReporter, stopping
from jobs.publish.status import STATUS_MARKER, render_status_comment
from jobs.repair import Repair
from jobs.sandbox.base import Limits as SandboxLimits
from jobs.sandbox.base import SandboxError
from jobs.suspicion import note_untrusted
from jobs.trigger import refusal, trigger_of
from sandbox_runner.report import FailureReport

JSON = dict[str, Any]
DEFAULT_COMMAND = "python -m pytest -q"


def stale_request(issue: IssueText, request: JSON, label: str) -> str | None:
    """Why a queued issue job no longer stands (closed, or its label removed since), or None."""
    if issue.state != "open":
        return f"#{issue.number} was closed before Autofix started: nothing to fix."
    asked_by_command = str(request.get("label_event") or "").startswith("command-") or "retry_of" in request
    by_label = not asked_by_command  # `/autofix`, `retry`, `revise`: a person asked now, label or not
    if by_label and label.lower() not in (name.lower() for name in issue.labels):
        return f"The `{label}` label was removed from #{issue.number} before Autofix started."
    return None


def issue_branch(prefix: str, number: int) -> str:
    return f"{prefix}issue-{number}"


class IssueJob(IssueAttempt):
    def __init__(self, deps: Deps, request: JSON, job_id: str) -> None:
        self.deps, self.request, self.job_id = deps, request, job_id
        self.owner, self.name = str(request["repo"]).split("/", 1)
        self.repo_id, self.number = int(request["repo_id"]), int(request["issue_number"])
        self.inst: Installation = deps.github.installation(
            int(request["installation_id"]), repository_id=self.repo_id
        )
        self.store = JobStore(deps.redis, clock=deps.clock)
        self.ledger = BudgetLedger(deps.redis, self.repo_id)
        self.phase: PhaseRecord | None = None
        self.links: dict[str, str] = {}
        self.usage = Usage()
        self.reporter: StatusReporter[str] = StatusReporter(self.write_status)
        self.revise = Revise.from_request(request)
        self.report: FailureReport | None = None
        self.repaired: Repair | None = None  # what the dashboard shows of the attempt
        self.permissions: dict[str, str] = {}  # login (lower case) -> role, asked in this job
        self.author_can_write = False  # the issue's author: False makes the PR a draft (F3)

    async def enter(self, record: JobRecord, name: str) -> None:
        if self.phase is not None and self.phase.status == "running":
            await self.store.end(record, self.phase)
        if await stop_requested(self.deps.redis, self.job_id, self.request):  # `/autofix stop`
            raise Stop("stopped", STOPPED)
        self.phase = await self.store.begin(record, name)
        await self.show(record)

    async def show(self, record: JobRecord) -> None:
        self.reporter.update(render_status_comment(record, links=self.links))

    async def write_status(self, text: str) -> None:
        await upsert_sticky_comment(self.inst, self.owner, self.name, self.number, STATUS_MARKER, text)

    async def run(self) -> JSON:
        return await stopping(self.reporter, self._run())

    async def _run(self) -> JSON:
        ended = await self.store.ended(self.job_id)
        if ended is not None:  # B4: a late redelivery of a finished job
            return ended
        record = await self.store.start(
            self.job_id, names.FIX_ISSUE, f"{self.owner}/{self.name}", self.request
        )
        final: str | None = None
        try:
            outcome, reason, final = await self.work(record)
        except Stop as stop:
            outcome, reason = stop.outcome, stop.reason
        except SandboxError as e:
            outcome, reason = "sandbox_error", e.render()
        except asyncio.CancelledError:
            await asyncio.shield(self.store.interrupt(record))  # E3: never "running" for good
            raise
        if self.phase is not None and self.phase.status == "running":
            await self.store.end(record, self.phase)
        await self.store.finish(record, outcome, reason)
        await self.ledger.record_spend(self.job_id, self.usage.dollars)
        await self.reporter.flush(final or render_status_comment(record, links=self.links))
        await self.afterwards(record)
        return {"outcome": outcome, "reason": reason, **self.links}

    async def afterwards(self, record: JobRecord) -> None:
        """What the job saw and made, for the dashboard; a notification when people should know."""
        await save_repair(
            JobArtefacts(self.deps.redis),
            self.job_id,
            self.repaired,
            backend=self.deps.settings.autofix_sandbox,
            report=self.report,
            links=self.links,
        )
        await notify_finished(self.deps.settings, record)

    async def work(self, record: JobRecord) -> tuple[str, str, str | None]:
        await self.enter(record, "evidence")
        issue = await fetch_issue(self.inst, self.owner, self.name, self.number)
        stale = stale_request(issue, self.request, self.deps.settings.autofix_label)
        if stale is not None:  # B6: GitHub's state now, not the order deliveries arrived in
            raise Stop("skipped", stale)
        evidence = issue_evidence(f"{self.owner}/{self.name}", self.number, issue.title, issue.body)
        self.report = evidence.report
        await note_untrusted(self, self.deps.redis, f"{issue.title}\n{issue.body or ''}", "issue")  # G1
        await self.enter(record, "gate")
        config = await self.config()
        await self.still_allowed(config)  # F9: before the gate counts an attempt
        await self.gate(config, evidence.report.fingerprint)
        if self.revise is not None:  # `/autofix revise`: a follow-up commit on the bot PR's head
            return await revise_issue_pr(self, record, config, issue, evidence.report, self.revise)
        self.author_can_write = bool(issue.author) and can_write(await self.permission(issue.author))
        default = await fetch_default_branch(self.inst, self.owner, self.name)
        sha = await fetch_branch_sha(self.inst, self.owner, self.name, default)
        await self.enter(record, "workspace")
        self.deps.scratch.mkdir(parents=True, exist_ok=True)
        api = self.deps.settings.github_api_url
        async with open_workspace(
            api, self.owner, self.name, sha, self.inst.token, parent=self.deps.scratch
        ) as ws:
            return await self.fix(record, config, issue, evidence.report, ws.path, sha, default)

    async def config(self) -> RepoConfig:
        try:
            config = parse_repo_config(await read_repo_config(self.inst, self.owner, self.name))
            raised = await fetch_raised_cap(self.deps.redis, self.request)
            return with_thread_budget(config, self.request, raised)  # `/autofix budget` on this thread
        except RepoConfigError as e:
            problems = "\n".join(f"- {p}" for p in e.problems)
            text = f"**`.github/autofix.yml` does not validate**, so Autofix did nothing:\n\n{problems}"
            raise Stop("config_error", text) from None

    async def permission(self, login: str) -> str:
        """`login`'s role on the repository, asked from GitHub once per job (a 403 is raised, not "none")."""
        key = login.lower()
        if key not in self.permissions:
            self.permissions[key] = await fetch_permission(self.inst, self.owner, self.name, login)
        return self.permissions[key]

    async def still_allowed(self, config: RepoConfig) -> None:
        """Whoever queued the job must still have the permission its trigger needs (F9)."""
        trigger = trigger_of(self.request)
        if trigger is None:
            return
        login, how = trigger
        refused = await refusal(
            self.deps.redis, self.phase, job_id=self.job_id, repo=f"{self.owner}/{self.name}",
            number=self.number, login=login, how=how, needed=needed_to_trigger(how, config),
            have=await self.permission(login), label=self.deps.settings.autofix_label,
        )  # fmt: skip
        if refused is not None:
            raise Stop("skipped", refused)

    async def gate(self, config: RepoConfig, fingerprint: str) -> None:
        state = RepoState(self.deps.redis, self.repo_id, self.inst.id)  # an installation pause counts
        usage = await self.ledger.usage()
        circuit = await count_run(
            self.deps.redis, self.deps.settings, repo=f"{self.owner}/{self.name}", repo_id=self.repo_id,
            number=self.number, installation_id=self.inst.id, job_id=self.job_id,
        )  # fmt: skip
        open_pr = await find_open_pr(self.inst, self.owner, self.name, self.branch())
        daily = build_installation_budget(  # K3: the installation's day, across its repositories
            self.deps.settings, self.deps.redis, self.inst.id, self.job_id, self.deps.clock
        )
        facts = GateFacts(
            kind="issue",
            repo_paused=await state.paused(),
            fingerprint=fingerprint,
            fingerprint_ignored=await state.is_ignored(fingerprint),
            open_bot_pr_for_fingerprint=open_pr.number if open_pr else None,
            jobs_last_hour=usage.jobs_last_hour,
            jobs_today=usage.jobs_today,
            dollars_today=usage.dollars_today,
            dollars_this_month=usage.dollars_this_month,
            open_bot_prs=await state.open_prs(),
            branch_prefix=self.deps.settings.autofix_branch_prefix,
            circuit_open=circuit,
            installation_dollars_today=await daily.spent_today() if daily is not None else 0.0,
            installation_dollars_per_day=daily.cap if daily is not None else None,
        )
        decision = decide_gate(for_command(facts, self.request), config)  # retry/revise on a bot PR
        if self.phase is not None:
            self.phase.outcome = decision.reason
        if not decision.proceed:
            raise Stop("skipped", decision.detail)
        await self.ledger.record_attempt(self.job_id)

    def guidance(self) -> str | None:
        return render_guidance(self.request)  # `/autofix <instructions>`, `retry`, `revise`

    def sandbox_inputs(self, config: RepoConfig) -> tuple[str, str, SandboxLimits]:
        """The test command, what the sandbox checks out, and its limits."""
        source = clone_url(self.deps.settings.github_api_url, self.owner, self.name)
        return config["test"] or DEFAULT_COMMAND, source, sandbox_limits(self.deps.settings, config)

    def branch(self) -> str:
        return issue_branch(self.deps.settings.autofix_branch_prefix, self.number)


async def fix_issue(ctx: JSON, request: JSON) -> JSON:
    return await IssueJob(deps_of(ctx), request, str(ctx.get("job_id"))).run()
