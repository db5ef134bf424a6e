"""The sandbox seam: what the worker asks of a sandbox, and how a sandbox run can end without results.

`Sandbox.run` gets a repository, a commit, a set-up and a test command and zero or more candidate
patches (id -> diff), and returns one `RunResult` per run: the baseline (no patch) first, then each
candidate. Backends: `LocalSandbox` (a confined subprocess on this host) and `ActionsSandbox` (the
reusable workflow on the user's own GitHub Actions runners).

When a backend cannot produce results it raises a `SandboxError`. Each kind carries `explain`, a
sentence a maintainer reads on the PR or comment, and `fix`, what they can do about it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from sandbox_runner.result import BASELINE, RunResult


@dataclass(frozen=True)
class Limits:
    """How long and how wide a sandbox may run. The runner's own per-process limits apply inside."""

    timeout_s: float = 600.0  # wall clock per run (set-up excluded)
    parallel: int = 2  # candidates run side by side (local backend)
    wait_s: float = 1800.0  # how long the worker waits for the whole batch (Actions: queue + run)
    trace: bool = False  # record which functions each test ran (RunResult.coverage; local backend)


DEFAULT_LIMITS = Limits()


class Sandbox(Protocol):
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
        """Run the baseline and each candidate (id -> unified diff) at `sha`; results, baseline first.

        Failing tests are results. A batch without usable results raises a SandboxError; a failed
        set-up command raises SetupFailed."""
        ...


class SandboxError(Exception):
    """A sandbox batch that ended without usable results. `str(e)` is the detail for logs."""

    code: ClassVar[str] = "sandbox_error"
    explain: ClassVar[str] = "The sandbox could not run the tests."
    fix: ClassVar[str] = "Retry with `/autofix retry`; if it keeps failing, check the worker's log."

    def render(self) -> str:
        """The text for a PR body or comment: what happened, the detail, and the fix."""
        detail = f" ({self})" if str(self) else ""
        return f"{self.explain}{detail} {self.fix}"


class SandboxUnavailable(SandboxError):
    code = "unavailable"
    explain = "The sandbox is not available."
    fix = "Check that the worker can start `python -m sandbox_runner` (or that Actions is enabled)."


class WorkflowMissing(SandboxError):
    code = "workflow_missing"
    explain = "The repository has no autofix sandbox workflow, so the fix could not be tested."
    fix = "Add it with `autofix init` in a checkout of the repository, commit and push the files it writes."


class WorkflowRefused(SandboxError):
    code = "workflow_refused"
    explain = "GitHub refused to start the sandbox workflow."
    fix = "Run `autofix init` again to refresh `.github/workflows/autofix-sandbox.yml`, then push it."


class PatchesTooLarge(SandboxError):
    code = "patches_too_large"
    explain = "The candidate patches are too large to hand to the sandbox workflow."
    fix = "Use the local sandbox (AUTOFIX_SANDBOX=local) for this repository, or ask for a smaller change."


class RunCancelled(SandboxError):
    code = "cancelled"
    explain = "The sandbox run was cancelled before it finished."
    fix = "Start it again with `/autofix retry`."


class RunTimedOut(SandboxError):
    code = "timed_out"
    explain = "The sandbox run did not finish in time."
    fix = "Raise AUTOFIX_SANDBOX_TIMEOUT, or select fewer tests in the command in `.github/autofix.yml`."


class SetupFailed(SandboxError):
    code = "setup_failed"
    explain = "The set-up command failed, so no test could run."
    fix = "Check `setup:` in `.github/autofix.yml`; it must install the project's test dependencies."


class ArtifactsExpired(SandboxError):
    code = "artifacts_expired"
    explain = "The sandbox run's results are gone (the artifacts expired or were deleted)."
    fix = "Start it again with `/autofix retry`."


class ResultsMissing(SandboxError):
    code = "results_missing"
    explain = "The sandbox run finished without writing results for every run."
    fix = "Look at the workflow run's log; the runner may have been killed (out of memory or disk)."


ERRORS: tuple[type[SandboxError], ...] = (
    SandboxUnavailable, WorkflowMissing, WorkflowRefused, PatchesTooLarge, RunCancelled,
    RunTimedOut, SetupFailed, ArtifactsExpired, ResultsMissing,
)  # fmt: skip


def order_results(results: Sequence[RunResult], candidate_ids: Sequence[str]) -> list[RunResult]:
    """Baseline first, then the candidates in the order asked; ResultsMissing if any run is absent."""
    by_id = {r.candidate_id: r for r in results}
    wanted = [BASELINE, *candidate_ids]
    missing = [c for c in wanted if c not in by_id]
    if missing:
        raise ResultsMissing("no result for " + ", ".join(missing))
    return [by_id[c] for c in wanted]


def check_setup(results: Sequence[RunResult]) -> None:
    """SetupFailed when the baseline's set-up command failed (every run then tells nothing)."""
    baseline = results[0] if results else None
    setup = baseline.setup if baseline is not None else None
    if setup is not None and setup.get("exit_code") not in (0, None):
        tail = str(setup.get("log_tail") or "").strip().splitlines()[-1:]
        raise SetupFailed(f"exit code {setup['exit_code']}" + (f": {tail[0][:200]}" if tail else ""))
