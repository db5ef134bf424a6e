"""fix_issue: an issue labelled `autofix` becomes a PR that fixes it and proves it with a new test.

Evidence from the issue (text, quoted tracebacks, referenced files) → gate → workspace → localize →
reproduce: the model writes a test that must fail on the current code, and the sandbox proves it does
→ propose fixes on top of that test → validate: the new test passes and nothing that passed with it
fails → publish a PR "Fixes #N" that includes the test. Without a proven reproduction, the repo
config decides: a diagnosis comment (default) or a draft PR marked unproven.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.github.client import Installation
from app.github.contents import fetch_default_branch, read_repo_config
from app.github.conversation import IssueText, fetch_issue, upsert_sticky_comment
from app.github.git_auth import clone_url
from app.github.git_data import fetch_branch_sha
from app.github.pulls import find_open_pr
from app.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from jobs import names
from jobs.assemble import build_facts, candidate_lines
from jobs.budgets import BudgetLedger
from jobs.commands.control import STOPPED, fetch_raised_cap, stop_requested
from jobs.commands.guidance import for_command, render_guidance, with_thread_budget
from jobs.commands.issue_revision import revise_issue_pr
from jobs.commands.revision import Revise
from jobs.deps import Deps, deps_of, sandbox_limits
from jobs.evidence import issue_evidence
from jobs.fix_check import Stop
from jobs.gate import GateFacts, decide_gate
from jobs.issue_repro import (
    REPRO_ID,
    build_issue_task,
    new_failing_tests,
    passes_without_regressions,
    run_batch,
    write_reproduction,
)
from jobs.patch.candidates import propose
from jobs.patch.context import Candidate, Usage
from jobs.patch.copies import apply_diff, copy_checkout
from jobs.patch.localize import build_context
from jobs.patch.prompts import Task
from jobs.patch.workspace import open_workspace
from jobs.publish.body import render_pr_body, render_unproven_comment
from jobs.publish.executor import PublishPlan, publish_pr
from jobs.publish.files import files_after
from jobs.publish.naming import commit_message, pr_title
from jobs.publish.reporter import StatusReporter
from jobs.publish.status import STATUS_MARKER, render_status_comment
from jobs.record import JobRecord, JobStore, PhaseRecord
from jobs.repo_state import RepoState
from jobs.sandbox.base import Limits as SandboxLimits
from jobs.sandbox.base import SandboxError
from sandbox_runner.patchguard import DEFAULT_FORBIDDEN, GuardPolicy
from sandbox_runner.proof import Verdict, choose, judge
from sandbox_runner.report import FailureReport
from sandbox_runner.result import RunResult

JSON = dict[str, Any]
DEFAULT_COMMAND = "python -m pytest -q"
NEEDS_HUMAN = "autofix:needs-human"
UNPROVEN_NOTE = (
    "> [!WARNING]\n> **Unproven.** No test could be written that fails on the current code, so nothing shows "
    "that this change fixes the issue; it only passes the existing tests. Review it as you would any "
    "patch (`issues.without_reproduction: draft` in `.github/autofix.yml`).\n\n"
)


def issue_branch(prefix: str, number: int) -> str:
    return f"{prefix}issue-{number}"


class IssueJob:
    def __init__(self, deps: Deps, request: JSON, job_id: str) -> None:
        self.deps, self.request, self.job_id = deps, request, job_id
        self.owner, self.name = str(request["repo"]).split("/", 1)
        self.repo_id, self.number = int(request["repo_id"]), int(request["issue_number"])
        self.inst: Installation = deps.github.installation(int(request["installation_id"]))
        self.store = JobStore(deps.redis, clock=deps.clock)
        self.ledger = BudgetLedger(deps.redis, self.repo_id)
        self.phase: PhaseRecord | None = None
        self.links: dict[str, str] = {}
        self.usage = Usage()
        self.reporter: StatusReporter[str] = StatusReporter(self.write_status)
        self.revise = Revise.from_request(request)

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
        if self.phase is not None and self.phase.status == "running":
            await self.store.end(record, self.phase)
        await self.store.finish(record, outcome, reason)
        await self.ledger.record_spend(self.job_id, self.usage.dollars)
        await self.reporter.flush(final or render_status_comment(record, links=self.links))
        return {"outcome": outcome, "reason": reason, **self.links}

    async def work(self, record: JobRecord) -> tuple[str, str, str | None]:
        await self.enter(record, "evidence")
        issue = await fetch_issue(self.inst, self.owner, self.name, self.number)
        evidence = issue_evidence(f"{self.owner}/{self.name}", self.number, issue.title, issue.body)
        await self.enter(record, "gate")
        config = await self.config()
        await self.gate(config, evidence.report.fingerprint)
        if self.revise is not None:  # `/autofix revise`: a follow-up commit on the bot PR's head
            return await revise_issue_pr(self, record, config, issue, evidence.report, self.revise)
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

    async def gate(self, config: RepoConfig, fingerprint: str) -> None:
        state = RepoState(self.deps.redis, self.repo_id)
        usage = await self.ledger.usage()
        open_pr = await find_open_pr(self.inst, self.owner, self.name, self.branch())
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

    async def fix(
        self,
        record: JobRecord,
        config: RepoConfig,
        issue: IssueText,
        report: FailureReport,
        checkout: Path,
        sha: str,
        base: str,
    ) -> tuple[str, str, str | None]:
        guidance = self.guidance()
        text = f"{issue.title}\n\n{issue.body}" + (f"\n\n{guidance}" if guidance else "")
        task = build_issue_task(report, text, guidance)
        command, source, limits = self.sandbox_inputs(config)
        sandbox = self.deps.sandbox(self.inst)
        policy = GuardPolicy(
            forbidden=(*DEFAULT_FORBIDDEN, *config["paths.forbidden"]), allowed=tuple(config["paths.allowed"])
        )
        engine = self.deps.engine(config)
        scratch = checkout.parent / "attempts"
        try:
            await self.enter(record, "localize")
            context = build_context(checkout, report=task.report, issue_text=text)
            await self.enter(record, "reproduce")
            repro = await write_reproduction(
                engine, checkout, scratch, context, Task(issue_text=text), policy
            )
            self.usage.add(repro.usage)

            async def run(patches: dict[str, str]) -> tuple[RunResult, list[RunResult]]:
                return await run_batch(sandbox, source, sha, config["setup"], command, patches, limits)

            failing: list[str] = []
            if repro.diff:
                baseline, (repro_run,) = await run({REPRO_ID: repro.diff})
                failing = new_failing_tests(baseline, repro_run)
            if self.phase is not None:
                self.phase.outcome = "reproduced" if failing else "no_reproduction"
                self.phase.detail["tests"] = failing
            draft = not failing  # no proof possible: a draft PR marked unproven, if the config asks for one
            if draft and config["issues.without_reproduction"] != "draft":
                return await self.unproven(record, report, repro, [], [], "no failing reproduction test")
            test_diff = repro.diff if failing else ""
            await self.enter(record, "propose")
            with_test = scratch / "with-test"
            await asyncio.to_thread(copy_checkout, checkout, with_test)
            if test_diff:
                await asyncio.to_thread(apply_diff, with_test, test_diff)
            proposal = await propose(
                engine=engine,
                checkout=with_test,
                scratch=scratch / "fix",
                context=context,
                task=task,
                k=int(config["candidates"]),
                policy=policy,
            )
            self.usage.add(proposal.usage)
            patches = {
                c.id: test_diff + c.diff
                for c in proposal.candidates
                if c.diff and c.outcome == "submitted" and not c.rejected_because
            }
            await self.enter(record, "validate")
            verdicts: list[Verdict] = []
            runs: list[RunResult] = []
            if patches:
                base_run, runs = await run(patches)
                judged_against = base_run if draft else repro_run
                verdicts = [judge(judged_against, r, failing) for r in runs]
            best = passes_without_regressions(verdicts, runs) if draft else choose(verdicts)
            chosen = next((c for c in proposal.candidates if best and c.id == best.candidate_id), None)
            if chosen is None:
                return await self.unproven(
                    record, report, repro, proposal.candidates, verdicts, "no proven fix"
                )
            await self.enter(record, "publish")
            facts = build_facts(
                report=replace(report, failing_tests=failing),
                job_id=self.job_id,
                run_url=None,
                base_sha=sha,
                chosen=chosen,
                candidates=proposal.candidates,
                verdicts=verdicts,
                baseline=base_run if draft else repro_run,
                chosen_run=next(r for r in runs if r.candidate_id == chosen.id),
                usage=self.usage,
                minutes=(self.deps.clock() - record.created_at) / 60,
                attempt=record.tries,
                issue_number=self.number,
            )
            changes = files_after(checkout, patches[chosen.id])
            title = pr_title(facts.root_cause, list(changes))
            message = commit_message(
                title,
                f"Fixes #{self.number}",
                fingerprint=report.fingerprint,
                run_url=None,
                job_id=self.job_id,
            )
            plan = PublishPlan(
                owner=self.owner,
                repo=self.name,
                base_branch=base,
                base_sha=sha,
                head_branch=self.branch(),
                title=title,
                body=(UNPROVEN_NOTE if draft else "") + render_pr_body(facts),
                commit_message=message,
                changes=changes,
                draft=draft or bool(config["pull_request.draft"]),
                labels=list(config["pull_request.labels"]) + ([NEEDS_HUMAN] if draft else []),
            )
            published = await publish_pr(self.inst, self.store, record, plan)
            await RepoState(self.deps.redis, self.repo_id).add_open_pr(published.number)
            self.links["pull_request"] = published.url
            if draft:
                return "draft_unproven", f"Opened draft #{published.number}, unproven: no failing test.", None
            return (
                "pr_opened",
                f"Opened #{published.number}: the new test fails before the fix and passes after.",
                None,
            )
        finally:
            await engine.providers.aclose()

    async def unproven(
        self,
        record: JobRecord,
        report: FailureReport,
        repro: Candidate,
        candidates: list[Candidate],
        verdicts: list[Verdict],
        why: str,
    ) -> tuple[str, str, str | None]:
        await self.enter(record, "publish")
        facts = build_facts(
            report=report,
            job_id=self.job_id,
            run_url=None,
            base_sha="",
            chosen=None,
            candidates=[repro, *candidates],
            verdicts=verdicts,
            baseline=None,
            chosen_run=None,
            usage=self.usage,
            minutes=(self.deps.clock() - record.created_at) / 60,
            attempt=record.tries,
            issue_number=self.number,
        )
        best = next((c.diff for c in candidates if c.diff and not c.rejected_because), None)
        text = render_unproven_comment(facts, best, candidate_lines([repro, *candidates], verdicts))
        return "unproven", f"Autofix could not prove a fix: {why}.", text


async def fix_issue(ctx: JSON, request: JSON) -> JSON:
    return await IssueJob(deps_of(ctx), request, str(ctx.get("job_id"))).run()
