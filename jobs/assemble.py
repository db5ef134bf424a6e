"""From what the phases found to what gets published: pure.

`decide_publication` picks the outcome (a PR, suggestions for a fork, or one of the comments that
explain why there is no PR); `build_facts` gathers what the PR body or comment says: the proof
table (each failing test before and after), the whole-suite summary, the chosen candidate and why
the others lost.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from jobs.patch.context import Candidate, Usage
from jobs.publish.body import CandidateLine, FixFacts, ProofRow
from jobs.reproduce import Reproduction
from jobs.reproduce import Verdict as Repro
from sandbox_runner.proof import Verdict, choose
from sandbox_runner.report import FailureReport
from sandbox_runner.result import Outcome, RunResult

MAX_TRACEBACK_FRAMES = 8


class Kind(enum.Enum):
    PR = "pr_opened"
    SUGGEST = "suggested"
    UNPROVEN = "unproven"
    FLAKY = "flaky"
    BROKEN_BASE = "broken_base"
    CANNOT_REPRODUCE = "cannot_reproduce"


@dataclass(frozen=True)
class Publication:
    kind: Kind
    chosen: Verdict | None = None
    reason: str = ""


def decide_publication(
    reproduction: Reproduction | None,
    verdicts: Sequence[Verdict],
    candidates: Sequence[Candidate] = (),
    *,
    fork: bool = False,
) -> Publication:
    """What to publish. No proven candidate never becomes a PR (DESIGN: no PR without proof)."""
    if reproduction is not None and reproduction.verdict is Repro.FLAKY:
        return Publication(Kind.FLAKY, reason=reproduction.reason)
    if reproduction is not None and reproduction.verdict is Repro.BROKEN_BASE:
        return Publication(Kind.BROKEN_BASE, reason=reproduction.reason)
    if reproduction is not None and reproduction.verdict is Repro.CANNOT_REPRODUCE:
        return Publication(Kind.CANNOT_REPRODUCE, reason=reproduction.reason)
    agreement = {c.id: c.agreement for c in candidates}
    sizes = {c.id: sum(1 for ln in c.diff.splitlines() if ln[:1] in "+-") for c in candidates}
    best = choose(list(verdicts), agreement=agreement, diff_lines=sizes)
    if best is None:
        reasons = "; ".join(f"{v.candidate_id}: {v.reason}" for v in verdicts) or "no candidate was submitted"
        return Publication(Kind.UNPROVEN, reason=reasons)
    return Publication(Kind.SUGGEST if fork else Kind.PR, best, best.reason)


def _outcome(run: RunResult | None, test_id: str) -> str:
    if run is None:
        return "—"
    exact = run.outcome_of(test_id)
    if exact is not None:
        return exact.value
    under = [
        t.outcome for t in run.tests if t.id.startswith(test_id + "::") or t.id.startswith(test_id + "[")
    ]
    if not under:
        return "did not run"
    return "failed" if any(o in (Outcome.FAILED, Outcome.ERROR) for o in under) else under[0].value


def proof_rows(baseline: RunResult, chosen: RunResult, failing: Sequence[str]) -> list[ProofRow]:
    return [ProofRow(t, _outcome(baseline, t), _outcome(chosen, t)) for t in failing]


def suite_summary(run: RunResult) -> str:
    counts = Counter(t.outcome.value for t in run.tests)
    order = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts[k]) or "no per-test results"


def candidate_lines(candidates: Sequence[Candidate], verdicts: Sequence[Verdict]) -> list[CandidateLine]:
    by_id = {v.candidate_id: v for v in verdicts}
    lines = []
    for c in candidates:
        v = by_id.get(c.id)
        if c.rejected_because:
            lines.append(
                CandidateLine(c.id, c.strategy, "rejected before the sandbox", "; ".join(c.rejected_because))
            )
        elif v is None:
            lines.append(CandidateLine(c.id, c.strategy, c.outcome.replace("_", " ")))
        else:
            lines.append(CandidateLine(c.id, c.strategy, "proven" if v.proven else "not proven", v.reason))
    return lines


def traceback_lines(report: FailureReport) -> list[str]:
    lines = [
        f'  File "{f.file}", line {f.line}, in {f.function}'
        for f in report.frames[-MAX_TRACEBACK_FRAMES:]
        if f.project
    ]
    if report.exception_type:
        first = (report.message or "").splitlines()[0] if report.message else ""
        lines.append(f"{report.exception_type}: {first}".rstrip(": "))
    return lines


def build_facts(
    *,
    report: FailureReport,
    job_id: str,
    run_url: str | None,
    base_sha: str,
    chosen: Candidate | None,
    candidates: Sequence[Candidate],
    verdicts: Sequence[Verdict],
    baseline: RunResult | None,
    chosen_run: RunResult | None,
    usage: Usage,
    minutes: float,
    attempt: int = 1,
    issue_number: int | None = None,
) -> FixFacts:
    diagnosis = chosen.diagnosis if chosen else None
    if diagnosis is None:  # unproven: the most agreed submitted diagnosis still helps a person
        diagnosis = next((c.diagnosis for c in candidates if c.diagnosis is not None), None)
    failing = list(report.failing_tests)
    lines = candidate_lines(candidates, verdicts)
    facts = FixFacts(
        fingerprint=report.fingerprint,
        job_id=job_id,
        failure_class=report.failure_class,
        exception_type=report.exception_type,
        message=report.message,
        failing_tests=failing,
        traceback=traceback_lines(report),
        run_url=run_url,
        root_cause=diagnosis.root_cause if diagnosis else "",
        where=diagnosis.where if diagnosis else "",
        why_right=diagnosis.why_fix_is_right if diagnosis else "",
        not_covered=diagnosis.not_covered if diagnosis else "",
        tokens=usage.input_tokens
        + usage.output_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens,
        dollars=usage.dollars,
        minutes=minutes,
        source="issue" if issue_number is not None else "check",
        issue_number=issue_number,
        base_sha=base_sha,
        attempt=attempt,
    )
    if baseline is not None and chosen_run is not None:
        facts.proof = proof_rows(baseline, chosen_run, failing)
        facts.regression_summary = f"{suite_summary(chosen_run)} (baseline: {suite_summary(baseline)})"
    if chosen is not None:
        facts.chosen = next((line for line in lines if line.id == chosen.id), None)
        facts.runners_up = [line for line in lines if line.id != chosen.id]
    if chosen_run is not None and chosen_run.tests_source == "parsed":
        facts.not_verified.append(
            "Per-test outcomes were parsed from the output (the runner wrote no JUnit XML)."
        )
    return facts
