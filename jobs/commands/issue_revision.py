"""`/autofix revise` on a bot PR that fixes an issue: the fix job's revision path (jobs/fix_issue.py).

The PR's head already holds the reproduction test and the fix, so nothing is reproduced again: the
model works in a checkout of that head with the issue, the fix so far and the feedback; each
candidate runs in the sandbox against that head, and one is proven when the suite still passes with
no test lost or newly failing (`judge_revision` with no failing tests named). The proven change is a
follow-up commit on the head, by fast-forward only (jobs/publish/executor.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app.github.conversation import IssueText
from app.job_records import JobRecord
from app.repo_config import RepoConfig
from jobs.assemble import build_facts
from jobs.commands.revision import Revise, fetch_revise_start, judge_revision, render_moved
from jobs.deps import guard_policy, job_engine
from jobs.fix_check import Stop
from jobs.issue_repro import build_issue_task, run_batch
from jobs.patch.candidates import propose
from jobs.patch.localize import build_context
from jobs.patch.workspace import open_workspace
from jobs.publish.body import render_pr_body
from jobs.publish.executor import BranchMoved, PublishPlan, publish_pr
from jobs.publish.files import files_after
from jobs.publish.naming import commit_message, revise_title
from jobs.repair import sendable
from sandbox_runner.proof import choose
from sandbox_runner.report import FailureReport

if TYPE_CHECKING:
    from jobs.fix_issue import IssueJob


Outcome = tuple[str, str, str | None]  # outcome, reason, the final status comment (None: the default)


async def revise_issue_pr(
    job: IssueJob,
    record: JobRecord,
    config: RepoConfig,
    issue: IssueText,
    report: FailureReport,
    revise: Revise,
) -> Outcome:
    await job.enter(record, "workspace")
    ours = record.checkpoints.get("commit_sha")  # retried: the head may be its own commit
    start = await fetch_revise_start(job.inst, job.owner, job.name, revise, ours)
    if start.refusal is not None:
        raise Stop("revise_refused", start.refusal)
    job.deps.scratch.mkdir(parents=True, exist_ok=True)
    api = job.deps.settings.github_api_url
    async with open_workspace(
        api, job.owner, job.name, revise.head_sha, job.inst.token, parent=job.deps.scratch
    ) as ws:
        guidance = "\n\n".join(x for x in (job.guidance(), start.hint) if x)
        text = f"{issue.title}\n\n{issue.body}" + (f"\n\n{guidance}" if guidance else "")
        task = build_issue_task(report, text, guidance)
        policy = guard_policy(config)
        engine = job_engine(job.deps, config, job.job_id, job.inst.id)
        try:
            await job.enter(record, "localize")
            context = await asyncio.to_thread(build_context, ws.path, report=task.report, issue_text=text)
            await job.enter(record, "propose")
            proposal = await propose(
                engine=engine, checkout=ws.path, scratch=ws.path.parent / "attempts", context=context,
                task=task, k=int(config["candidates"]), policy=policy,
            )  # fmt: skip
        finally:
            await engine.providers.aclose()
        job.usage.add(proposal.usage)
        patches = sendable(proposal.candidates)
        await job.enter(record, "validate")
        if not patches:
            return "unproven", "Autofix could not revise the fix: no candidate was submitted.", None
        sandbox = job.deps.sandbox(job.inst)
        command, source, limits = job.sandbox_inputs(config)
        baseline, runs = await run_batch(
            sandbox, source, revise.head_sha, config["setup"], command, patches, limits
        )
        verdicts = [judge_revision(baseline, r, []) for r in runs]
        best = choose(verdicts)
        chosen = next((c for c in proposal.candidates if best and c.id == best.candidate_id), None)
        if chosen is None:
            why = "; ".join(f"{v.candidate_id}: {v.reason}" for v in verdicts)
            return "unproven", f"Autofix could not prove a revision: {why}.", None
        await job.enter(record, "publish")
        facts = build_facts(
            report=report, job_id=job.job_id, run_url=None, base_sha=revise.head_sha, chosen=chosen,
            candidates=proposal.candidates, verdicts=verdicts, baseline=baseline,
            chosen_run=next(r for r in runs if r.candidate_id == chosen.id), usage=job.usage,
            minutes=(job.deps.clock() - record.created_at) / 60, attempt=record.tries,
            issue_number=job.number,
        )  # fmt: skip
        revise.describe(facts)
        changes = files_after(ws.path, patches[chosen.id])
        title = revise_title(list(changes))
        plan = PublishPlan(
            owner=job.owner, repo=job.name, base_branch=start.base_ref, base_sha=revise.head_sha,
            head_branch=revise.branch, title=start.title or title, body=render_pr_body(facts),
            commit_message=commit_message(title, f"{facts.revision}\n\nFor #{job.number}.",
                                          fingerprint=report.fingerprint, run_url=None, job_id=job.job_id),
            changes=changes, draft=False, follow_up=True,
        )  # fmt: skip
        try:
            published = await publish_pr(job.inst, job.store, record, plan)
        except BranchMoved as moved:
            return "revise_refused", render_moved(moved.branch, moved.was, moved.now), None
        job.links["pull_request"] = published.url
        added = f"Added {published.commit_sha[:7]} to #{published.number} on top of {revise.head_sha[:7]}"
        return "pr_updated", f"{added}: the revision, proven in the sandbox.", None
