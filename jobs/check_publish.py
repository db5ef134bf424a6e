"""The publish step of fix_check_run: a PR for a proven fix, and for every other outcome the comment
(on the broken PR) or the check run text that says why there is no PR. A mixin of `CheckJob`, kept
apart so the phases and the publishing each read on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from app.budgets import BudgetLedger
from app.github.client import Installation
from app.github.conversation import add_labels, upsert_sticky_comment
from app.job_records import JobRecord, JobStore
from app.repo_config import RepoConfig
from app.repo_state import RepoState
from jobs.assemble import Kind, Publication, build_facts, candidate_lines, decide_publication
from jobs.check_facts import Target
from jobs.commands.revision import Revise, ReviseStart, render_moved
from jobs.deps import Deps
from jobs.patch.context import Candidate, Diagnosis, Usage
from jobs.patch.memory import FixMemory
from jobs.publish.body import (
    FixFacts,
    render_broken_base_comment,
    render_flaky_comment,
    render_fork_suggestion,
    render_pr_body,
    render_unproven_comment,
)
from jobs.publish.executor import BranchMoved, PublishPlan, publish_pr
from jobs.publish.files import files_after
from jobs.publish.naming import commit_message, pr_title, revise_title
from jobs.repair import Repair
from jobs.reproduce import Reproduction
from sandbox_runner.report import FailureReport
from sandbox_runner.result import RunResult

NEEDS_HUMAN = "autofix:needs-human"


class CheckPublishing:
    deps: Deps
    inst: Installation
    owner: str
    name: str
    job_id: str
    head_sha: str
    target: Target | None
    store: JobStore
    state: RepoState
    ledger: BudgetLedger
    memory: FixMemory
    links: dict[str, str]
    revise: Revise | None  # `/autofix revise`: a follow-up commit on the bot PR's head
    revise_start: ReviseStart | None

    enter: Callable[[JobRecord, str], Awaitable[None]]  # CheckJob.enter: start a phase

    async def publish(
        self,
        record: JobRecord,
        report: FailureReport,
        config: RepoConfig,
        reproduction: Reproduction | None,
        result: Repair | None,
        checkout: Path | None = None,
    ) -> tuple[str, str]:
        assert self.target is not None
        await self.enter(record, "publish")
        verdicts = result.verdicts if result else []
        candidates = result.candidates if result else []
        publication = decide_publication(reproduction, verdicts, candidates, fork=self.target.fork)
        chosen = result.candidate(publication.chosen.candidate_id) if result and publication.chosen else None
        facts = build_facts(
            report=report,
            job_id=self.job_id,
            run_url=report.source.get("url"),
            base_sha=self.head_sha,
            chosen=chosen,
            candidates=candidates,
            verdicts=verdicts,
            baseline=result.baseline if result else None,
            chosen_run=result.runs.get(chosen.id) if result and chosen else None,
            usage=result.usage if result else Usage(),
            minutes=(self.deps.clock() - record.created_at) / 60,
            attempt=record.tries,
        )
        if self.revise is not None:
            self.revise.describe(facts)
        await self.ledger.record_spend(self.job_id, facts.dollars)
        explained = record.phase_named("publish")  # for `/autofix explain`: the cause, each candidate's fate
        if explained is not None:
            explained.detail["root_cause"] = facts.root_cause
            explained.detail["candidates"] = [
                f"{c.id} ({c.strategy}): {c.result}. {c.why}".strip()
                for c in candidate_lines(candidates, verdicts)
            ]
        if publication.kind is Kind.PR and chosen is not None and checkout is not None:
            if self.revise is not None:
                return await self.follow_up(record, report, config, facts, chosen.diff, checkout, self.revise)
            return await self.open_pr(record, report, config, facts, chosen.diff, checkout)
        return await self.explain(publication, facts, result, reproduction)

    async def open_pr(
        self,
        record: JobRecord,
        report: FailureReport,
        config: RepoConfig,
        facts: FixFacts,
        diff: str,
        checkout: Path,
    ) -> tuple[str, str]:
        assert self.target is not None
        changes = files_after(checkout, diff)
        title = pr_title(facts.root_cause, list(changes))
        plan = PublishPlan(
            owner=self.owner,
            repo=self.name,
            base_branch=self.target.base_branch,
            base_sha=self.head_sha,
            head_branch=self.target.bot_branch(self.deps.settings.autofix_branch_prefix, report.fingerprint),
            title=title,
            body=render_pr_body(facts),
            commit_message=commit_message(
                title,
                facts.root_cause,
                fingerprint=report.fingerprint,
                run_url=facts.run_url,
                job_id=self.job_id,
            ),
            changes=changes,
            draft=bool(config["pull_request.draft"]),
            labels=list(config["pull_request.labels"]),
            link_on=self.target.pr.number if self.target.fixing_a_pr and self.target.pr else None,
        )
        published = await publish_pr(self.inst, self.store, record, plan)
        await self.state.add_open_pr(published.number)
        self.links["pull_request"] = published.url
        await self.remember(report, diff, facts)
        return "pr_opened", f"Opened #{published.number} with a fix proven in the sandbox."

    async def follow_up(
        self,
        record: JobRecord,
        report: FailureReport,
        config: RepoConfig,
        facts: FixFacts,
        diff: str,
        checkout: Path,
        revise: Revise,
    ) -> tuple[str, str]:
        """A revision: a commit on the bot PR's head (its parent), the branch fast-forwarded to it,
        the PR's body rewritten; the PR keeps its title. Nothing is forced: a moved head refuses."""
        assert self.target is not None
        changes = files_after(checkout, diff)
        title = revise_title(list(changes))
        asked = f"Asked for by {revise.by} in review of #{revise.number}." if revise.by else ""
        plan = PublishPlan(
            owner=self.owner,
            repo=self.name,
            base_branch=self.target.base_branch,
            base_sha=revise.head_sha,
            head_branch=revise.branch,
            title=self.revise_start.title if self.revise_start and self.revise_start.title else title,
            body=render_pr_body(facts),
            commit_message=commit_message(
                title,
                f"{facts.revision}\n\n{asked}",
                fingerprint=report.fingerprint,
                run_url=facts.run_url,
                job_id=self.job_id,
            ),
            changes=changes,
            draft=bool(config["pull_request.draft"]),
            link_on=self.target.pr.number if self.target.fixing_a_pr and self.target.pr else None,
            follow_up=True,
        )
        try:
            published = await publish_pr(self.inst, self.store, record, plan)
        except BranchMoved as moved:
            return "revise_refused", render_moved(moved.branch, moved.was, moved.now)
        self.links["pull_request"] = published.url
        return "pr_updated", (
            f"Added {published.commit_sha[:7]} to #{published.number} on top of {revise.head_sha[:7]}: "
            "the revision, proven in the sandbox."
        )

    async def remember(self, report: FailureReport, diff: str, facts: FixFacts) -> None:
        diagnosis = Diagnosis(facts.root_cause, facts.where, facts.why_right, facts.not_covered)
        await self.memory.remember(report, Candidate("chosen", "", diff, diagnosis, "submitted"))

    async def explain(
        self,
        publication: Publication,
        facts: FixFacts,
        result: Repair | None,
        reproduction: Reproduction | None,
    ) -> tuple[str, str]:
        """Every outcome without a PR of ours: said on the broken PR when there is one, else on the check."""
        assert self.target is not None
        kind = publication.kind
        if kind is Kind.SUGGEST and result is not None and publication.chosen is not None:
            chosen = result.candidate(publication.chosen.candidate_id)
            text = render_fork_suggestion(facts, chosen.diff if chosen else "")
        elif kind is Kind.FLAKY and reproduction is not None:
            text = render_flaky_comment(facts, [_run_line(i, r) for i, r in enumerate(reproduction.runs, 1)])
        elif kind is Kind.BROKEN_BASE:
            text = render_broken_base_comment(facts, self.target.pr.base_sha if self.target.pr else "")
        elif kind is Kind.CANNOT_REPRODUCE and reproduction is not None:
            return "cannot_reproduce", reproduction.reason
        else:
            best = _best_unproven_diff(result)
            tried = candidate_lines(result.candidates, result.verdicts) if result else []
            text = render_unproven_comment(facts, best, tried)
        if self.target.pr is not None:
            await upsert_sticky_comment(
                self.inst, self.owner, self.name, self.target.pr.number, kind.value, text
            )
            if kind is Kind.UNPROVEN:
                await add_labels(self.inst, self.owner, self.name, self.target.pr.number, [NEEDS_HUMAN])
        else:
            self.links["diagnosis"] = "on the Autofix check run"
        return kind.value, publication.reason or kind.value.replace("_", " ")


def _run_line(i: int, run: RunResult) -> str:
    state = "timed out" if run.timed_out else ("passed" if run.exit_code == 0 else "failed")
    return f"run {i}: {state} ({run.duration_s:.0f} s)"


def _best_unproven_diff(result: Repair | None) -> str | None:
    if result is None:
        return None
    return next((c.diff for c in result.candidates if c.diff and not c.rejected_because), None)
