"""fix_check_run: a failed check run becomes a proven pull request, or a comment that says why not.

Phases (each recorded in the job record): evidence → gate → reproduce → workspace → localize →
propose → validate → publish → record. Side effects are find-or-create or checkpointed, so a retried
job repeats none. The bot's own `Autofix` check run on the failing commit, and a sticky comment on
the broken PR when there is one, show the phase and then the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from arq import Retry

from app.artefacts import JobArtefacts
from app.budgets import BudgetLedger, build_installation_budget
from app.github.client import Installation
from app.github.contents import read_repo_config
from app.github.conversation import fetch_permission
from app.github.git_auth import clone_url
from app.job_records import JobRecord, JobStore, PhaseRecord
from app.notify import notify_finished
from app.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from app.repo_state import RepoState
from jobs import names
from jobs.artefact_writer import save_repair
from jobs.breakers import count_run
from jobs.check_facts import Target, fetch_gate_facts, fetch_target
from jobs.check_publish import CheckPublishing
from jobs.check_status import CheckStatus, Status
from jobs.commands.control import STOPPED, fetch_raised_cap, stop_requested
from jobs.commands.guidance import for_command, render_guidance, with_thread_budget
from jobs.commands.permissions import needed_to_trigger
from jobs.commands.revision import Revise, ReviseStart, fetch_revise_start, judge_revision
from jobs.deps import Deps, deps_of, guard_policy, job_engine, sandbox_limits
from jobs.evidence import fetch_check_evidence
from jobs.gate import Action, decide_gate
from jobs.locks import FingerprintLock
from jobs.patch.agent import decide_job_stop
from jobs.patch.memory import FixMemory
from jobs.patch.prompts import Task
from jobs.patch.workspace import open_workspace
from jobs.publish.reporter import StatusReporter, stopping
from jobs.publish.status import (
    CheckView,
    render_config_error,
)
from jobs.repair import Judge, Repair, RepairInputs, engine_steps, repair
from jobs.reproduce import Reproduction, Verdict, reproduce
from jobs.sandbox.base import Limits as SandboxLimits
from jobs.sandbox.base import Sandbox, SandboxError
from jobs.suspicion import note_untrusted
from jobs.trigger import check_trigger_of, refusal
from sandbox_runner.proof import judge as judge_fix
from sandbox_runner.report import FailureReport

log = logging.getLogger("autofix.jobs.fix_check")
JSON = dict[str, Any]
LOCK_RETRY_S = 60
NO_COMMAND = "The log does not say how to run the failing tests: set `test:` in .github/autofix.yml."


class Stop(Exception):
    """Ends the job early with an outcome and a sentence (not an error)."""

    def __init__(self, outcome: str, reason: str, view: CheckView | None = None) -> None:
        super().__init__(reason)
        self.outcome, self.reason, self.view = outcome, reason, view


class CheckJob(CheckPublishing, CheckStatus):
    def __init__(self, deps: Deps, request: JSON, job_id: str) -> None:
        self.deps, self.request, self.job_id = deps, request, job_id
        self.owner, self.name = str(request["repo"]).split("/", 1)
        self.repo_id = int(request["repo_id"])
        self.head_sha = str(request["head_sha"])
        self.inst: Installation = deps.github.installation(
            int(request["installation_id"]), repository_id=self.repo_id
        )
        self.store = JobStore(deps.redis, clock=deps.clock)
        self.state = RepoState(deps.redis, self.repo_id, self.inst.id)  # an installation pause counts
        self.ledger = BudgetLedger(deps.redis, self.repo_id)
        self.daily = build_installation_budget(deps.settings, deps.redis, self.inst.id, job_id, deps.clock)
        self.memory = FixMemory(deps.redis, self.repo_id)
        self.target: Target | None = None
        self.phase: PhaseRecord | None = None
        self.links: dict[str, str] = {}
        self.reporter: StatusReporter[Status] = StatusReporter(self.write_status)
        self.revise = Revise.from_request(request)  # `/autofix revise`: a follow-up commit on the bot PR
        self.revise_start: ReviseStart | None = None
        self.report: FailureReport | None = None
        self.repaired: Repair | None = None

    # -- the record and what people see -----------------------------------------------------------

    async def enter(self, record: JobRecord, name: str) -> None:
        await self.leave(record)
        if await stop_requested(self.deps.redis, self.job_id, self.request):  # `/autofix stop`
            raise Stop("stopped", STOPPED)
        self.phase = await self.store.begin(record, name)
        await self.show(record)

    async def leave(self, record: JobRecord, outcome: str | None = None) -> None:
        if self.phase is not None and self.phase.status == "running":
            if outcome is not None:
                self.phase.outcome = outcome
            await self.store.end(record, self.phase)

    # -- the phases -------------------------------------------------------------------------------

    async def run(self) -> JSON:
        return await stopping(self.reporter, self._run())

    async def _run(self) -> JSON:
        ended = await self.store.ended(self.job_id)
        if ended is not None:  # B4: a late redelivery of a finished job
            return ended
        record = await self.store.start(
            self.job_id, names.FIX_CHECK_RUN, f"{self.owner}/{self.name}", self.request
        )
        lock: FingerprintLock | None = None
        view: CheckView | None = None
        try:
            report = await self.evidence(record)
            config = await self.config(record)
            await self.still_allowed(config)  # F9: before the gate counts an attempt
            await self.gate(record, report, config)
            lock = FingerprintLock(self.deps.redis, self.repo_id, report.fingerprint, self.job_id)
            if not await lock.acquire():
                lock = None
                raise Retry(defer=LOCK_RETRY_S)  # another job is on this failure: it will open the PR
            outcome, reason = await self.fix(record, report, config)
        except Stop as stop:
            outcome, reason, view = stop.outcome, stop.reason, stop.view
        except SandboxError as e:
            outcome, reason = "sandbox_error", e.render()
        except asyncio.CancelledError:
            await asyncio.shield(self.store.interrupt(record))  # E3: never "running" for good
            raise
        finally:
            if lock is not None:
                await lock.release()
        await self.leave(record)
        await self.store.finish(record, outcome, reason)
        await self.reporter.flush(self.status(record, view))
        await self.afterwards(record)
        return {"outcome": outcome, "reason": reason, **self.links}

    async def afterwards(self, record: JobRecord) -> None:
        """What the job saw and made, for the dashboard; a notification when people should know."""
        backend = self.deps.settings.autofix_sandbox
        artefacts = JobArtefacts(self.deps.redis)
        await save_repair(
            artefacts, self.job_id, self.repaired, backend=backend, report=self.report, links=self.links
        )
        await notify_finished(self.deps.settings, record)

    async def evidence(self, record: JobRecord) -> FailureReport:
        await self.enter(record, "evidence")

        async def read() -> JSON:
            found = await fetch_check_evidence(
                self.inst, self.owner, self.name, int(self.request["check_run_id"])
            )
            return found.report.to_json() | ({"note": found.note} if found.note else {})

        data = dict(await self.store.once(record, "report", read))
        data.pop("note", None)
        report = self.report = FailureReport.from_json(data)
        if self.phase is not None:
            self.phase.outcome = report.failure_class
            self.phase.detail.update(failing_tests=report.failing_tests[:20], fingerprint=report.fingerprint)
        seen = f"{report.message or ''}\n{report.excerpt}"  # G1: what of the log the model will read
        await note_untrusted(self, self.deps.redis, seen, "ci_log", prose=False)
        return report

    async def config(self, record: JobRecord) -> RepoConfig:
        await self.enter(record, "gate")
        try:
            config = parse_repo_config(await read_repo_config(self.inst, self.owner, self.name))
            raised = await fetch_raised_cap(self.deps.redis, self.request)
            return with_thread_budget(config, self.request, raised)  # `/autofix budget` on this thread
        except RepoConfigError as e:
            await self.leave(record, "config_error")
            raise Stop("config_error", str(e), render_config_error(e.problems)) from None

    async def still_allowed(self, config: RepoConfig) -> None:
        """Whoever asked for this retry or revise must still have the permission it needs (F9)."""
        trigger = check_trigger_of(self.request)
        if trigger is None:
            return
        login, verb = trigger
        refused = await refusal(
            self.deps.redis, self.phase, job_id=self.job_id, repo=f"{self.owner}/{self.name}", number=None,
            login=login, how=verb, needed=needed_to_trigger(verb, config),
            have=await fetch_permission(self.inst, self.owner, self.name, login),
            label=self.deps.settings.autofix_label,
        )  # fmt: skip
        if refused is not None:
            raise Stop("skipped", refused)

    async def gate(self, record: JobRecord, report: FailureReport, config: RepoConfig) -> None:
        self.target = await fetch_target(self.inst, self.owner, self.name, self.request)
        circuit = await count_run(
            self.deps.redis, self.deps.settings, repo=f"{self.owner}/{self.name}", repo_id=self.repo_id,
            number=self.target.pr.number if self.target.pr else None, installation_id=self.inst.id,
            job_id=self.job_id,
        )  # fmt: skip
        facts = await fetch_gate_facts(
            self.inst,
            self.owner,
            self.name,
            request=self.request,
            report=report,
            target=self.target,
            state=self.state,
            ledger=self.ledger,
            memory=self.memory,
            bot_app_id=self.deps.settings.github_app_id,
            branch_prefix=self.deps.settings.autofix_branch_prefix,
            job_id=self.job_id,
            circuit_open=circuit,
            resuming=record.tries > 1,  # a retry of this job may find the PR it opened before a crash
        )
        if self.daily is not None:  # K3: the installation's day, across its repositories
            spent = await self.daily.spent_today()
            facts = replace(
                facts, installation_dollars_today=spent, installation_dollars_per_day=self.daily.cap
            )
        decision = decide_gate(for_command(facts, self.request), config)  # retry/revise on a bot PR
        if self.phase is not None:
            self.phase.outcome = decision.reason
            self.phase.detail["detail"] = decision.detail
        if not decision.proceed:
            outcome = "cancelled" if decision.action is Action.CANCEL else "skipped"
            raise Stop(outcome, decision.detail)
        await self.ledger.record_attempt(self.job_id)

    async def fix(self, record: JobRecord, report: FailureReport, config: RepoConfig) -> tuple[str, str]:
        assert self.target is not None
        command = config["test"] or report.reproduction_command
        if not command:
            raise Stop("no_command", NO_COMMAND)
        if self.revise is not None:  # `/autofix revise`: from the bot PR's head, no new reproduction
            return await self.revision(record, report, config, command, self.revise)
        await self.enter(record, "reproduce")
        sandbox = self.deps.sandbox(self.inst)
        limits = sandbox_limits(self.deps.settings, config)
        base_sha = self.target.pr.base_sha if self.target.pr is not None else None
        reproduction = await reproduce(
            sandbox, report, repo=self.source(), sha=self.head_sha, command=command, setup=config["setup"],
            base_sha=base_sha, limits=limits, reruns=self.deps.settings.autofix_reproduce_reruns,
        )  # fmt: skip
        if self.phase is not None:
            self.phase.outcome = reproduction.verdict.value
            self.phase.detail["reason"] = reproduction.reason
        if reproduction.verdict is not Verdict.REPRODUCED:
            return await self.publish(record, report, config, reproduction, None)
        await self.enter(record, "workspace")
        return await self.work(record, report, config, command, self.head_sha, reproduction)

    async def revision(
        self, record: JobRecord, report: FailureReport, config: RepoConfig, command: str, revise: Revise
    ) -> tuple[str, str]:
        """The bot PR's head as it was when the revise was asked: checkout, baseline and parent."""
        await self.enter(record, "workspace")
        ours = record.checkpoints.get("commit_sha")  # retried: the head may be its own commit
        start = await fetch_revise_start(self.inst, self.owner, self.name, revise, ours)
        if start.refusal is not None:
            raise Stop("revise_refused", start.refusal)
        self.revise_start = start
        return await self.work(record, report, config, command, revise.head_sha, None, start.hint)

    async def work(
        self,
        record: JobRecord,
        report: FailureReport,
        config: RepoConfig,
        command: str,
        sha: str,
        reproduction: Reproduction | None,
        extra_hint: str | None = None,
    ) -> tuple[str, str]:
        """Workspace at `sha`, repair (baseline at `sha`), publish."""
        sandbox = self.deps.sandbox(self.inst)
        limits = sandbox_limits(self.deps.settings, config)
        api = self.deps.settings.github_api_url
        self.deps.scratch.mkdir(parents=True, exist_ok=True)
        async with open_workspace(
            api, self.owner, self.name, sha, self.inst.token, parent=self.deps.scratch
        ) as ws:
            hint = "\n".join(x for x in (await self.hint(report), extra_hint) if x) or None
            task = Task(report, hint=hint)
            trace = reproduction.runs[0].coverage if reproduction and reproduction.runs else None
            inputs = RepairInputs(ws.path, self.source(), sha, command, task, config["setup"], trace=trace)
            judge = judge_revision if self.revise is not None else judge_fix
            result = self.repaired = await self.repair(record, inputs, config, sandbox, limits, judge)
            return await self.publish(record, report, config, reproduction, result, ws.path)

    async def hint(self, report: FailureReport) -> str | None:
        hints = await self.memory.hints(report)
        lines = [f"- {h.record.root_cause} (files: {', '.join(h.record.files)})" for h in hints]
        guidance = render_guidance(self.request)  # `/autofix retry <guidance>`
        return "\n".join(lines + ([guidance] if guidance else [])) or None

    async def repair(
        self,
        record: JobRecord,
        inputs: RepairInputs,
        config: RepoConfig,
        sandbox: Sandbox,
        limits: SandboxLimits,
        judge: Judge = judge_fix,
    ) -> Repair:
        policy = guard_policy(config)
        engine = job_engine(self.deps, config, self.job_id, self.inst.id, self.daily)  # the gate's day too
        scratch = inputs.checkout.parent / "attempts"
        k = int(config["candidates"])
        try:
            propose_step, refine_step = engine_steps(engine, inputs.checkout, scratch, k=k, policy=policy)
            result = await repair(
                inputs,
                sandbox=sandbox,
                propose=propose_step,
                refine=refine_step,
                limits=limits,
                on_phase=lambda name: self.enter(record, name),
                judge=judge,
            )
        finally:
            await engine.providers.aclose()
        if (stop := decide_job_stop(engine, result.candidates)) is not None:
            raise Stop(*stop)  # C9, K3: refused for money, or the installation's day is spent
        return result

    def clone_url(self) -> str:
        return clone_url(self.deps.settings.github_api_url, self.owner, self.name)

    def source(self) -> str:
        """What the sandbox checks out: the repository for Actions, a clone URL for the local one."""
        actions = self.deps.settings.autofix_sandbox == "actions"
        return f"{self.owner}/{self.name}" if actions else self.clone_url()


async def fix_check_run(ctx: JSON, request: JSON) -> JSON:
    """A failed check run to repair (see the module docstring)."""
    return await CheckJob(deps_of(ctx), request, str(ctx.get("job_id") or request.get("job_id"))).run()
