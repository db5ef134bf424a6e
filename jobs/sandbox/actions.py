"""ActionsSandbox: the reusable sandbox workflow, run on the user's own GitHub Actions runners.

One batch is one dispatch of the repository's `autofix-sandbox.yml` (the caller `autofix init`
writes) on its default branch, with a fresh correlation id that the workflow puts in its run name.
Then: find the run by that id, wait for it to complete — woken by the `workflow_run.completed`
webhook through Redis (signals.py), polling GitHub every `poll_s` as the fallback — and read each
matrix job's `result-<id>` artifact (a zip holding result.json). A run still queued or running at
the worker's deadline (`Limits.wait_s`) is cancelled (Actions: write), so it stops holding the
repository's runners, and the batch ends as RunTimedOut whether or not the cancel went through.

Every way this ends without results is a SandboxError with the maintainer's fix (base.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import zipfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

from app.github.actions_logs import download_artifact
from app.github.actions_runs import (
    Artifact,
    WorkflowRun,
    cancel_run,
    dispatch_workflow,
    fetch_run,
    find_dispatched_run,
    list_run_artifacts,
)
from app.github.client import Installation
from app.github.contents import fetch_default_branch
from app.github.errors import GitHubError, NotFound, Unprocessable
from jobs.sandbox import signals
from jobs.sandbox.base import (
    DEFAULT_LIMITS,
    ArtifactsExpired,
    Limits,
    ResultsMissing,
    RunCancelled,
    RunTimedOut,
    SandboxUnavailable,
    WorkflowMissing,
    WorkflowRefused,
    check_setup,
    order_results,
)
from jobs.sandbox.local import check_candidate_ids
from jobs.sandbox.request import build_request
from sandbox_runner.result import BASELINE, RunResult

log = logging.getLogger("autofix.sandbox")
ARTIFACT_PREFIX = "result-"
MAX_ARTIFACT_BYTES = 8 * 1024 * 1024
FIND_S = 120.0  # a dispatched run appears within seconds; past this, GitHub did not start it
CANCELLED = ("cancelled", "skipped", "stale")
TIMED_OUT = ("timed_out",)


def parse_artifact_zip(data: bytes) -> RunResult:
    """The RunResult in an artifact zip (`result.json` at its root)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            raw = archive.read("result.json")
    except (zipfile.BadZipFile, KeyError) as e:
        raise ResultsMissing(f"an artifact holds no readable result.json ({e})") from None
    return RunResult.from_json(json.loads(raw))


def decide_conclusion(run: WorkflowRun) -> None:
    """Raise the outcome for a run that ended without trustworthy results; return if it has them."""
    if run.conclusion in CANCELLED:
        raise RunCancelled(f"run {run.html_url} ended {run.conclusion}")
    if run.conclusion in TIMED_OUT:
        raise RunTimedOut(f"run {run.html_url} hit the workflow's job timeout")


def pick_artifacts(artifacts: Sequence[Artifact], wanted: Sequence[str]) -> dict[str, Artifact]:
    """The newest live artifact per wanted run id; ArtifactsExpired when one only exists expired."""
    by_name: dict[str, Artifact] = {}
    for artifact in sorted(artifacts, key=lambda a: a.id):
        by_name[artifact.name] = artifact
    chosen, expired = {}, []
    for cid in wanted:
        found = by_name.get(ARTIFACT_PREFIX + cid)
        if found is not None and found.expired:
            expired.append(cid)
        elif found is not None:
            chosen[cid] = found
    if expired:
        raise ArtifactsExpired("expired: " + ", ".join(ARTIFACT_PREFIX + c for c in expired))
    return chosen


def missing_results(run: WorkflowRun, missing: Sequence[str]) -> ArtifactsExpired | ResultsMissing:
    """A run that succeeded uploaded every result (a job without one fails): if some are not
    listed now, they were deleted or expired. A run that failed may simply not have written them."""
    names = ", ".join(ARTIFACT_PREFIX + c for c in missing)
    if run.conclusion == "success":
        return ArtifactsExpired(f"{names} of run {run.html_url} are gone")
    return ResultsMissing(f"run {run.html_url} ({run.conclusion}) has no {names}")


class ActionsSandbox:
    def __init__(
        self,
        inst: Installation,
        redis: Redis,
        *,
        workflow: str = "autofix-sandbox.yml",
        poll_s: float = 15.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inst, self.redis, self.workflow, self.poll_s = inst, redis, workflow, poll_s
        self.clock, self.sleep = clock, sleep

    async def run(
        self,
        repo: str,
        sha: str,
        setup: str | None,
        command: str,
        candidates: Mapping[str, str],
        *,
        failing: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> list[RunResult]:
        """`repo` is `owner/name`. See the module docstring for the steps."""
        check_candidate_ids(candidates)
        owner, name = repo.split("/", 1)
        request = build_request(setup, command, candidates, failing, limits.timeout_s)
        correlation = signals.new_correlation_id()
        since = datetime.fromtimestamp(self.clock() - 5, UTC)
        inputs = {"correlation_id": correlation, "sha": sha, "request": request}
        await self._dispatch(owner, name, inputs)
        deadline = self.clock() + limits.wait_s
        run = await self._find(owner, name, correlation, since)
        run = await self._wait(owner, name, run, correlation, deadline)
        decide_conclusion(run)
        found = await self._results(owner, name, run, [BASELINE, *candidates])
        results = order_results(found, list(candidates))
        check_setup(results)
        return results

    async def _dispatch(self, owner: str, name: str, inputs: dict[str, str]) -> None:
        try:
            branch = await fetch_default_branch(self.inst, owner, name)
            await dispatch_workflow(self.inst, owner, name, self.workflow, branch, inputs)
        except NotFound:
            raise WorkflowMissing(f".github/workflows/{self.workflow} not found in {owner}/{name}") from None
        except Unprocessable as e:
            raise WorkflowRefused(e.message) from None

    async def _find(self, owner: str, name: str, correlation: str, since: datetime) -> WorkflowRun:
        give_up = self.clock() + FIND_S
        while True:
            run = await find_dispatched_run(self.inst, owner, name, self.workflow, correlation, since)
            if run is not None:
                return run
            if self.clock() >= give_up:
                raise SandboxUnavailable(f"GitHub started no run for the dispatch within {FIND_S:.0f}s")
            await self.sleep(min(2.0, self.poll_s))

    async def _wait(
        self, owner: str, name: str, run: WorkflowRun, correlation: str, deadline: float
    ) -> WorkflowRun:
        while run.status != "completed":
            left = deadline - self.clock()
            if left <= 0:
                stopped = await self._cancel(owner, name, run)
                raise RunTimedOut(f"run {run.html_url} still {run.status} after the wait limit; {stopped}")
            await signals.wait_run_finished(self.redis, correlation, min(self.poll_s, left))
            run = await fetch_run(self.inst, owner, name, run.id)
        return run

    async def _cancel(self, owner: str, name: str, run: WorkflowRun) -> str:
        """Cancel the run we gave up on; what happened, for the timeout's detail. Never raises: a
        cancel that fails is logged, and the timeout is still what the batch reports."""
        try:
            cancelled = await cancel_run(self.inst, owner, name, run.id)
        except GitHubError as e:
            log.warning("could not cancel run %s of %s/%s: %s", run.id, owner, name, e.message)
            return f"cancelling it failed ({e.message})"
        return "cancelled it" if cancelled else "it completed meanwhile"

    async def _results(self, owner: str, name: str, run: WorkflowRun, wanted: list[str]) -> list[RunResult]:
        chosen = pick_artifacts(await list_run_artifacts(self.inst, owner, name, run.id), wanted)
        results = []
        for artifact in chosen.values():
            try:
                data = await download_artifact(self.inst, owner, name, artifact.id, MAX_ARTIFACT_BYTES)
            except NotFound:
                raise ArtifactsExpired(f"{artifact.name} of run {run.html_url} is gone") from None
            results.append(parse_artifact_zip(data))
        missing = [c for c in wanted if c not in chosen]
        if missing:
            raise missing_results(run, missing)
        return results
