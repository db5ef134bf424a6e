"""Checklist B, delivery semantics and idempotency: the cases not already pinned down by
tests/test_webhook.py (replays, coalescing, a wiped Redis) and the gate's pure tests.

The jobs run for real against the local GitHub, the scripted model server and a real Redis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.fix_issue import fix_issue
from tests.patch_support import Served
from tests.pipeline_support import FILES, broken_pr, failing_check
from tests.support import OWNER, LocalGitHub
from tests.test_fix_check_scenarios import fix_turns
from tests.test_fix_issue_e2e import request_for


def _pulls(repo: Any) -> list[Any]:
    return [i for i in repo.issues.values() if i.pull is not None]


@pytest.mark.timeout(120)  # the fix pipeline up to its gate
async def test_B3_a_failure_on_a_sha_the_pr_has_moved_past_is_skipped(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    """B3: the failure event for SHA1 arrives after the PR head moved to SHA2 -> the job starts,
    re-reads the PR head, sees it is stale, and skips with no PR (and no model call)."""
    repo, pr, _, request = broken_pr(gh, tmp_path)
    gh.sim.commit(repo, "feature", {"NOTES.md": "moved on\n"}, "Another commit", "mona")

    result = await fix_check_run({"deps": deps, "job_id": "check:stale"}, request)

    assert result == {"outcome": "cancelled", "reason": "A newer commit on the branch supersedes this one."}
    assert [p.number for p in _pulls(repo)] == [pr.number], "no fix PR for a stale sha"
    assert model.state.bodies == []


@pytest.mark.timeout(150)  # the fix pipeline up to its model calls
@pytest.mark.parametrize("change", ["closed", "unlabeled"])
async def test_B6_an_issue_closed_or_unlabelled_before_the_job_runs_is_not_fixed(
    gh: LocalGitHub, deps: Deps, model: Served[Any], change: str
) -> None:
    """B6 (and R-D5): ordering by GitHub's current state, not by arrival: an `issues.labeled`
    delivery processed after the issue was closed or the label removed -> no fix attempt."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong", "mean([1, 2, 3]) gives 1.5")
    gh.sim.label_issue(repo, issue.number, "autofix")  # the delivery that queued the job
    if change == "closed":
        issue.state = "closed"
    else:
        issue.labels.remove("autofix")  # removed before the worker got to the job

    result = await fix_issue({"deps": deps, "job_id": "issue:stale"}, request_for(gh, repo, issue.number))

    assert result["outcome"] == "skipped", result
    assert model.state.bodies == [], "the model was asked to fix an issue nobody wants fixed any more"
    assert _pulls(repo) == []


@pytest.mark.timeout(240)  # two runs of the fix pipeline
async def test_B4_a_late_redelivery_of_a_fixed_failure_starts_no_second_attempt(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    """B4: manual redelivery hours later (same GUID, after arq's `keep_result` expired) of an
    already-fixed event -> no second PR or comment: the semantic dedup (the bot's PR and its marker)
    recognises the failure as handled, before any model call."""
    repo, request = failing_check(gh, tmp_path, FILES)
    model.state.script(*fix_turns())
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"  # the same GUID routes to the same job id
    first = await fix_check_run({"deps": deps, "job_id": job_id}, request)
    assert first["outcome"] == "pr_opened", first
    calls = len(model.state.bodies)
    model.state.script(*fix_turns())  # what a second attempt would be offered, if one were made

    again = await fix_check_run({"deps": deps, "job_id": job_id}, request)

    assert len(model.state.bodies) == calls, f"the fixed failure went to the model again: {again}"
    assert len(_pulls(repo)) == 1
