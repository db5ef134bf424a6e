"""The attempt of fix_issue, once the gate said go: localize, have the model write a reproduction test
that must fail on the current code, propose fixes on top of it, prove them in the sandbox, and publish
a PR "Fixes #N" that includes the test, or the diagnosis when nothing was proven. A mixin of
`IssueJob` (jobs/fix_issue.py), kept apart so the job's phases and its attempt each read on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from app.github.client import Installation
from app.github.conversation import IssueText
from app.job_records import JobRecord, JobStore, PhaseRecord
from app.repo_config import RepoConfig
from app.repo_state import RepoState
from jobs.assemble import build_facts, candidate_lines
from jobs.deps import Deps, guard_policy, job_engine
from jobs.fix_check import Stop
from jobs.issue_repro import (
    REPRO_ID,
    build_issue_task,
    new_failing_tests,
    passes_without_regressions,
    run_batch,
    write_reproduction,
)
from jobs.patch.agent import decide_job_stop
from jobs.patch.candidates import propose
from jobs.patch.context import Candidate, Usage
from jobs.patch.copies import apply_diff, copy_checkout
from jobs.patch.localize import build_context
from jobs.patch.prompts import Task
from jobs.publish.body import render_pr_body, render_unproven_comment
from jobs.publish.executor import PublishPlan, publish_pr
from jobs.publish.files import files_after
from jobs.publish.naming import commit_message, pr_title
from jobs.repair import Repair
from jobs.sandbox.base import Limits as SandboxLimits
from sandbox_runner.proof import Verdict, choose, judge
from sandbox_runner.report import FailureReport
from sandbox_runner.result import RunResult

NEEDS_HUMAN = "autofix:needs-human"
UNPROVEN_NOTE = (
    "> [!WARNING]\n> **Unproven.** No test could be written that fails on the current code, so nothing shows "
    "that this change fixes the issue; it only passes the existing tests. Review it as you would any "
    "patch (`issues.without_reproduction: draft` in `.github/autofix.yml`).\n\n"
)
OUTSIDER_NOTE = (  # true whether or not GitHub allowed the draft (drafts need a paid plan on private repos)
    "> **Needs a maintainer's review:** the issue was written by someone without write access, so "
    "this PR opens as a draft where GitHub allows one, labelled `autofix:needs-human`.\n\n"
)


class Drafting(NamedTuple):
    draft: bool
    notes: str  # what the top of the PR body says about why it is a draft
    needs_human: bool  # labelled so: the label stays where GitHub refuses drafts (free private repos)


def decide_draft(*, unproven: bool, configured: bool, author_can_write: bool) -> Drafting:
    """How the issue's PR opens: as a draft, with a note saying why, when the fix is unproven (the
    config asked for a draft over a comment) or the issue's author has no write access (F3: their
    words steered the change, so a maintainer decides it is ready); else as the config says."""
    notes = (UNPROVEN_NOTE if unproven else "") + ("" if author_can_write else OUTSIDER_NOTE)
    needs_human = unproven or not author_can_write
    return Drafting(needs_human or configured, notes, needs_human)


class IssueAttempt:
    deps: Deps
    inst: Installation
    owner: str
    name: str
    repo_id: int
    number: int
    job_id: str
    store: JobStore
    phase: PhaseRecord | None
    links: dict[str, str]
    usage: Usage
    repaired: Repair | None
    author_can_write: bool  # the issue's author has write access (else the PR is a draft)

    enter: Callable[[JobRecord, str], Awaitable[None]]  # IssueJob.enter: start a phase
    guidance: Callable[[], str | None]
    sandbox_inputs: Callable[[RepoConfig], tuple[str, str, SandboxLimits]]
    branch: Callable[[], str]

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
        policy = guard_policy(config)
        engine = job_engine(self.deps, config, self.job_id, self.inst.id)
        scratch = checkout.parent / "attempts"
        try:
            await self.enter(record, "localize")
            context = build_context(checkout, report=task.report, issue_text=text)
            await self.enter(record, "reproduce")
            repro = await write_reproduction(
                engine, checkout, scratch, context, Task(issue_text=text), policy
            )
            self.usage.add(repro.usage)
            self.repaired = Repair(context, [repro], usage=repro.usage)
            if (stop := decide_job_stop(engine, [repro])) is not None:
                raise Stop(*stop)  # C9, K3: refused for money, or the installation's day is spent

            async def run(patches: dict[str, str]) -> tuple[RunResult, list[RunResult]]:
                return await run_batch(sandbox, source, sha, config["setup"], command, patches, limits)

            failing: list[str] = []
            if repro.diff:
                traced = replace(limits, trace=True)  # what the new failing test runs: run-time evidence
                baseline, (repro_run,) = await run_batch(
                    sandbox, source, sha, config["setup"], command, {REPRO_ID: repro.diff}, traced
                )
                failing = new_failing_tests(baseline, repro_run)
                if failing and repro_run.coverage:  # localize again, now knowing what the test ran
                    context = await asyncio.to_thread(
                        build_context, checkout, report=task.report, issue_text=text, trace=repro_run.coverage
                    )
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
            self.repaired = Repair(
                context, [repro, *proposal.candidates], base_run if patches else None,
                {r.candidate_id: r for r in runs}, verdicts, usage=self.usage,
            )  # fmt: skip
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
            drafting = decide_draft(
                unproven=draft, configured=bool(config["pull_request.draft"]),
                author_can_write=self.author_can_write,
            )  # fmt: skip
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
                body=drafting.notes + render_pr_body(facts),
                commit_message=message,
                changes=changes,
                draft=drafting.draft,
                labels=list(config["pull_request.labels"]) + ([NEEDS_HUMAN] if drafting.needs_human else []),
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
