"""`/autofix revise` in the fix jobs: start from the bot PR's head, prove the change against that head,
and land it as a follow-up commit (fast-forward only).

The request's `revise` names the PR, its branch and the head sha the maintainer saw. The job refuses
when the PR is closed or its head moved since (someone pushed: their commit is not ours to build on
unasked). The model works in a checkout of that head, told what the fix already changed and what the
reviewer wants; the sandbox's baseline is that head. A revision is proven when the tests the failure
named still pass, nothing that passed at the head fails, and no test went missing
(`judge_revision`). `decide_revise_start` and `judge_revision` are pure; `fetch_revise_start` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.github.client import Installation
from app.github.pulls import fetch_pr
from app.github.rest import request
from jobs.publish.body import FixFacts
from sandbox_runner.proof import Verdict, judge
from sandbox_runner.result import Outcome, RunResult

DIFF_MEDIA = "application/vnd.github.diff"
MAX_FIX_DIFF_CHARS = 6000
MOVED = (
    "`{branch}` moved since the revise was asked (it was at {was}, it is at {now}), so I did not build "
    "on it: ask again with `/autofix revise` to revise the new head."
)


@dataclass(frozen=True)
class Revise:
    number: int  # the bot PR
    branch: str  # its head branch
    head_sha: str  # the head the maintainer asked about; the follow-up commit's parent
    by: str  # who asked (or reviewed)
    root_cause: str = ""  # the failure's diagnosis, from the job that made the PR

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> Revise | None:
        data = request.get("revise")
        if not isinstance(data, dict):
            return None
        return cls(
            int(data["number"]), str(data["branch"]), str(data["head_sha"]), str(data.get("by") or ""),
            str(data.get("root_cause") or ""),
        )  # fmt: skip

    def describe(self, facts: FixFacts) -> None:
        """`facts` of the revision made to say what they are: the model's diagnosis is what the
        revision changes; what broke stays the failure's diagnosis."""
        facts.revised_from, facts.revised_by = self.head_sha, self.by
        facts.revision = facts.root_cause
        facts.root_cause = self.root_cause or facts.root_cause


def short(sha: str) -> str:
    return sha[:7]


def render_moved(branch: str, was: str, now: str) -> str:
    return MOVED.format(branch=branch, was=short(was), now=short(now))


def decide_revise_start(revise: Revise, state: str, head_sha: str, ours: str | None = None) -> str | None:
    """Why the revision may not start from the PR as GitHub shows it now, or None. `ours`: the
    commit this job made before it was interrupted; a head there is this job's own doing."""
    if state != "open":
        return f"#{revise.number} was closed before the revision started, so I did nothing."
    if head_sha not in (revise.head_sha, ours):
        return render_moved(revise.branch, revise.head_sha, head_sha)
    return None


def render_revise_hint(revise: Revise, fix_diff: str) -> str:
    """What the model is told about the fix it is revising (the diff is the PR's, relative to its base)."""
    diff = fix_diff.strip()
    if len(diff) > MAX_FIX_DIFF_CHARS:
        diff = diff[:MAX_FIX_DIFF_CHARS] + "\n… (diff cut here)"
    return (
        f"Your checkout is the head of #{revise.number} ({short(revise.head_sha)}): the fix is already "
        "in it. Change only what the review feedback asks for; your diff is relative to this head. "
        f"The fix so far, as a diff against the PR's base:\n{diff or '(empty)'}"
    )


def judge_revision(baseline: RunResult, candidate: RunResult, failing: Sequence[str]) -> Verdict:
    """`judge` with the PR head as the baseline: the failing tests passed there already (the fix is
    in), so "did not fail at baseline" is what a revision must keep, not a lack of proof."""
    verdict = judge(baseline, candidate, failing)
    if verdict.proven or verdict.tampering or verdict.regressions or verdict.still_failing:
        return verdict
    passing = sum(1 for t in baseline.tests if t.outcome is Outcome.PASSED)
    if failing and verdict.reason.startswith("not shown: "):
        kept = verdict.fixed + verdict.unconfirmed
        verdict.proven, verdict.fixed, verdict.unconfirmed = True, kept, []
        shown = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
        verdict.reason = f"keeps {shown} passing; no regressions among {passing} tests passing at the head"
    elif not failing and verdict.reason.startswith("nothing to prove") and candidate.exit_code == 0:
        verdict.proven = True
        verdict.reason = f"the tests still pass; no regressions among {passing} tests passing at the head"
    return verdict


@dataclass(frozen=True)
class ReviseStart:
    refusal: str | None  # why not to start, or None
    title: str = ""  # the PR's title, kept
    base_ref: str = ""  # the PR's base branch
    hint: str = ""  # for the model: the fix so far (`render_revise_hint`)


async def fetch_revise_start(
    inst: Installation, owner: str, repo: str, revise: Revise, ours: object = None
) -> ReviseStart:
    """The bot PR as GitHub shows it now, and its diff (the fix so far). `ours`: the job record's
    `commit_sha` checkpoint, if any."""
    pr = await fetch_pr(inst, owner, repo, revise.number)
    refusal = decide_revise_start(revise, pr.state, pr.head_sha, ours if isinstance(ours, str) else None)
    if refusal is not None:
        return ReviseStart(refusal)
    path = f"/repos/{owner}/{repo}/pulls/{revise.number}"
    response = await inst.read(request("GET", path, headers={"Accept": DIFF_MEDIA}))
    return ReviseStart(None, pr.title, pr.base_ref, render_revise_hint(revise, response.text))
