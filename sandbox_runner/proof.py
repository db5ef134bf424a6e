"""Proof rules: does a candidate's run prove that its patch fixes the failure? Standard library, pure.

A candidate fixes a test only if that test ran and passed. A failing test that is now missing
(deleted, renamed, deselected), skipped, xfailed or xpassed (an xfail marker added), or a run that
collected fewer tests than the baseline, is tampering, never a fix. A patch that did not apply, a
run that timed out, hit a limit or was killed, proves nothing. A test that passed at the baseline and
does not pass now is a regression and disqualifies. `docs/sandbox-protocol.md` ("Proof rules")
says the same for maintainers.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sandbox_runner.result import Outcome, RunResult

_PASS = (Outcome.PASSED, Outcome.XPASSED)
_FAIL = (Outcome.FAILED, Outcome.ERROR)
_HIDDEN = {Outcome.SKIPPED: "skipped", Outcome.XFAILED: "xfailed", Outcome.XPASSED: "marked xfail"}
_SHOWN = 3  # test ids named in a one-line reason


@dataclass
class Verdict:
    candidate_id: str
    proven: bool
    fixed: list[str] = field(default_factory=list)  # failed at baseline, ran and passed now
    still_failing: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)  # passed at baseline, not passing now
    tampering: list[str] = field(default_factory=list)  # reasons
    unconfirmed: list[str] = field(default_factory=list)  # named as failing, but did not fail at baseline
    reason: str = ""  # one line for a maintainer


class _Outcomes:
    """A run's outcomes by test id. A module or unparametrized id also finds the tests under it (a
    collection error at the baseline is reported against the module, its tests once it imports)."""

    def __init__(self, run: RunResult) -> None:
        self.exact: dict[str, list[Outcome]] = {}
        for t in run.tests:
            self.exact.setdefault(t.id, []).append(t.outcome)
        self.ids = sorted(self.exact)

    def __call__(self, test_id: str) -> list[Outcome]:
        if test_id in self.exact:
            return self.exact[test_id]
        found: list[Outcome] = []
        for sep in ("::", "["):
            i = bisect.bisect_left(self.ids, test_id + sep)
            while i < len(self.ids) and self.ids[i].startswith(test_id + sep):
                found += self.exact[self.ids[i]]
                i += 1
        return found


def _ids(ids: Sequence[str]) -> str:
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


def _count(run: RunResult) -> int | None:
    return (
        run.collected if run.collected is not None else len(run.tests) if run.tests_source != "none" else None
    )


def _run_problem(run: RunResult, failing: Sequence[str]) -> str | None:
    if run.patch is not None and not run.patch.applied:
        return f"patch not applied: {run.patch.reason or 'unknown reason'}"
    if run.timed_out:
        return f"timed out after {run.duration_s:.0f} s"
    if run.limits_hit:
        return f"hit limits: {', '.join(run.limits_hit)}"
    if run.exit_code is None:
        return "the test command did not run to the end"
    if failing and run.tests_source == "none":
        return "no per-test results: cannot tell whether the failing tests ran"
    return None


def _check_failing(
    verdict: Verdict, baseline: RunResult, candidate: _Outcomes, failing: Sequence[str]
) -> None:
    before = _Outcomes(baseline)
    for test_id in failing:
        now = candidate(test_id)
        if not now:
            verdict.tampering.append(f"{test_id} did not run")
        elif hidden := [_HIDDEN[o] for o in now if o in _HIDDEN]:
            verdict.tampering.append(f"{test_id} was {hidden[0]}")
        elif any(o in _FAIL for o in now):
            verdict.still_failing.append(test_id)
        elif baseline.tests and not any(o in _FAIL for o in before(test_id)):
            verdict.unconfirmed.append(test_id)  # passing now shows nothing if it did not fail before
        else:
            verdict.fixed.append(test_id)
    for t in baseline.tests:  # other tests that failed at the baseline and pass now count too
        if t.outcome in _FAIL and t.id not in failing and candidate(t.id) == [Outcome.PASSED]:
            verdict.fixed.append(t.id)


def judge(baseline: RunResult, candidate: RunResult, failing: Sequence[str]) -> Verdict:
    """Whether `candidate`'s run proves its patch fixes `failing` (test ids that failed at baseline)."""
    verdict = Verdict(candidate.candidate_id, proven=False)
    failing = list(dict.fromkeys(failing))
    problem = _run_problem(candidate, failing)
    if problem:
        verdict.reason = problem
        return verdict
    outcomes = _Outcomes(candidate)
    _check_failing(verdict, baseline, outcomes, failing)
    before, now = _count(baseline), _count(candidate)
    if before is not None and now is not None and now < before:
        verdict.tampering.append(f"collected {now} tests, {before} at baseline")
    for t in baseline.tests:
        now_ = outcomes(t.id) if t.outcome is Outcome.PASSED else [Outcome.PASSED]
        if not now_ or any(o not in _PASS for o in now_):
            verdict.regressions.append(t.id)
    if not baseline.tests:  # nothing to compare with: any other test failing now may be one
        verdict.regressions = [t.id for t in candidate.tests if t.outcome in _FAIL and t.id not in failing]
    verdict.proven, verdict.reason = _reason(verdict, baseline, candidate, failing)
    return verdict


def _reason(
    verdict: Verdict, baseline: RunResult, candidate: RunResult, failing: Sequence[str]
) -> tuple[bool, str]:
    """(proven, the one line that says why) — the first rule broken, else what the candidate fixes."""
    if verdict.tampering:
        return False, f"tampering: {'; '.join(verdict.tampering[:_SHOWN])}"
    if verdict.regressions:
        return False, f"regressions: {_ids(verdict.regressions)} passed at baseline and do not pass now"
    if verdict.still_failing:
        return False, f"still failing: {_ids(verdict.still_failing)}"
    if verdict.unconfirmed:
        return False, f"not shown: {_ids(verdict.unconfirmed)} did not fail at baseline"
    passing = sum(t.outcome is Outcome.PASSED for t in baseline.tests)
    if failing and not baseline.tests:
        return True, f"fixes {_ids(verdict.fixed)}; no test fails now (the baseline has no per-test results)"
    if failing:
        return True, f"fixes {_ids(verdict.fixed)}; no regressions among {passing} tests that passed"
    if baseline.exit_code not in (0, None) and candidate.exit_code == 0:
        return (
            True,
            f"fixes the failing command (exit {baseline.exit_code} at baseline, 0 now); no regressions",
        )
    return False, "nothing to prove: no failing test named and the command did not go from failing to passing"


def choose(
    verdicts: Sequence[Verdict],
    *,
    agreement: Mapping[str, int] | None = None,
    diff_lines: Mapping[str, int] | None = None,
) -> Verdict | None:
    """The best proven verdict: most tests fixed, then most attempts agreeing, then the smallest diff."""
    agree, size = agreement or {}, diff_lines or {}
    proven = [v for v in verdicts if v.proven and not v.regressions and not v.tampering]
    if not proven:
        return None
    return min(
        proven, key=lambda v: (-len(v.fixed), -agree.get(v.candidate_id, 1), size.get(v.candidate_id, 0))
    )
