"""Reproduce a failure in the sandbox and say what kind of failure it is.

`reproduce` runs the failing tests at the failing commit. If they pass, it reruns them up to
`reruns` times: a failure that comes back is flaky; one that never does could not be reproduced
(it depends on something the CI had and the sandbox has not). For a pull request whose failure did
reproduce, it also runs the tests at the base commit: failing there too means the base was already
broken, not the PR. `decide_reproduction` is the decision alone, over the runs, with no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jobs.sandbox.base import DEFAULT_LIMITS, Limits, Sandbox, check_setup
from sandbox_runner.report import FailureReport
from sandbox_runner.result import Outcome, RunResult

DEFAULT_RERUNS = 3
_FAILED = (Outcome.FAILED, Outcome.ERROR)


class Verdict(enum.Enum):
    REPRODUCED = "reproduced"
    FLAKY = "flaky"
    CANNOT_REPRODUCE = "cannot-reproduce"
    BROKEN_BASE = "broken-base"


@dataclass(frozen=True)
class Reproduction:
    verdict: Verdict
    reason: str  # one sentence for the PR or comment
    failing: list[str]  # of the tests asked about, those that failed at the failing commit
    runs: list[RunResult] = field(default_factory=list)  # at the failing commit, in order
    base_run: RunResult | None = None  # at the base commit (pull requests only)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "failing": self.failing,
            "runs": [r.to_json() for r in self.runs],
            "base_run": self.base_run.to_json() if self.base_run else None,
        }


def failed_tests(run: RunResult, wanted: Sequence[str]) -> list[str] | None:
    """Of `wanted`, the tests that failed in `run`; None when the run failed without naming any of
    them (a collection error, a crash, a timeout) — the run failed as a whole."""
    failed = [t for t in wanted if run.outcome_of(t) in _FAILED]
    if failed:
        return failed
    ran_wanted = any(run.outcome_of(t) is not None for t in wanted)
    if run.timed_out or (run.exit_code != 0 and not ran_wanted):
        return None
    return []


def is_failure(run: RunResult, wanted: Sequence[str]) -> bool:
    return failed_tests(run, wanted) != []


def decide_reproduction(
    runs: Sequence[RunResult], base_run: RunResult | None, wanted: Sequence[str]
) -> tuple[Verdict, str, list[str]]:
    """The verdict, its reason, and the wanted tests that failed at the failing commit."""
    assert runs, "at least one run at the failing commit"
    first = failed_tests(runs[0], wanted)
    if first is not None and not first:
        later = [r for r in runs[1:] if is_failure(r, wanted)]
        if later:
            names = sorted({t for r in later for t in failed_tests(r, wanted) or []})
            return Verdict.FLAKY, f"failed in {len(later)} of {len(runs)} runs; passed in the others", names
        missing = [t for t in wanted if runs[0].outcome_of(t) is None]
        if missing and len(missing) == len(wanted):
            why = "the failing tests did not run in the sandbox (not collected?)"
        else:
            why = f"passed in all {len(runs)} runs in the sandbox; the failure depends on the CI environment"
        return Verdict.CANNOT_REPRODUCE, why, []
    failing = first or []
    what = ", ".join(failing) if failing else "the test command"
    if base_run is not None and is_failure(base_run, wanted):
        why = f"{what} fails at the base commit too: the base is already broken"
        return Verdict.BROKEN_BASE, why, failing
    how = "timed out" if runs[0].timed_out else "failed"
    return Verdict.REPRODUCED, f"{what} {how} in the sandbox as in CI", failing


async def reproduce(
    sandbox: Sandbox,
    report: FailureReport,
    *,
    repo: str,
    sha: str,
    command: str | None = None,
    setup: str | None = None,
    base_sha: str | None = None,
    reruns: int = DEFAULT_RERUNS,
    limits: Limits = DEFAULT_LIMITS,
) -> Reproduction:
    """Run the report's failing tests at `sha` (and, for a PR, at `base_sha`) and classify the failure.

    `command` defaults to the report's reproduction command. SetupFailed and the other SandboxErrors
    propagate: they are outcomes of their own, not verdicts.
    """
    wanted = list(report.failing_tests)
    command = command or report.reproduction_command
    if not command:
        raise ValueError("no test command: pass one, or a report with a reproduction command")
    runs: list[RunResult] = []

    async def once(at: str, trace: bool = False) -> RunResult:
        assert command
        run_limits = replace(limits, trace=True) if trace else limits
        results = await sandbox.run(repo, at, setup, command, {}, failing=wanted, limits=run_limits)
        check_setup(results)
        return results[0]

    runs.append(await once(sha, trace=True))  # which functions the failing tests ran: localization
    while not is_failure(runs[0], wanted) and len(runs) <= reruns:
        runs.append(await once(sha))
        if is_failure(runs[-1], wanted):
            break
    base_run = None
    if base_sha and base_sha != sha and is_failure(runs[0], wanted):
        base_run = await once(base_sha)
    verdict, reason, failing = decide_reproduction(runs, base_run, wanted)
    return Reproduction(verdict, reason, failing, runs, base_run)
