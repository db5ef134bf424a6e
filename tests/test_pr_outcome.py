"""A closed bot PR: merged or rejected, into fix memory and the open-PR count (real Redis)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from app.audit import read_audit
from app.repo_state import RepoState
from jobs.patch.context import Candidate, Diagnosis
from jobs.patch.memory import FixMemory
from jobs.pr_outcome import fingerprint_of_branch, record_pr_outcome, record_revert
from jobs.publish.naming import branch_name
from sandbox_runner.report import FailureReport

FP = "v1:0123456789abcdef"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (branch_name("autofix/", FP), FP),
        (branch_name("autofix/", FP, "feature/login"), FP),
        ("autofix/v1-xyz", None),
        ("feature/v1-0123456789abcdef", None),
    ],
)
def test_the_fingerprint_is_read_back_from_the_branch_the_bot_named(ref: str, expected: str | None) -> None:
    assert fingerprint_of_branch("autofix/", ref) == expected


async def remembered(redis: Redis) -> FixMemory:
    memory = FixMemory(redis, 1)
    report = FailureReport(source={}, failure_class="test_failure", fixable=True, fingerprint=FP)
    diagnosis = Diagnosis("cause", "a.py:1", "why", "nothing")
    await memory.remember(report, Candidate("c1", "minimal", "", diagnosis, "submitted"))
    await RepoState(redis, 1).add_open_pr(12)
    return memory


@pytest.mark.parametrize(("merged", "rejected"), [(True, False), (False, True)])
async def test_a_closed_pr_is_recorded(redis: Redis, merged: bool, rejected: bool) -> None:
    memory = await remembered(redis)
    request = {
        "repo_id": 1,
        "repo": "o/r",
        "number": 12,
        "merged": merged,
        "head_ref": branch_name("autofix/", FP),
    }
    result = await record_pr_outcome(redis, request, "autofix/")
    assert result == {
        "number": 12,
        "outcome": "merged" if merged else "closed",
        "fingerprint": FP,
        "remembered": True,
    }
    assert await memory.is_rejected(FP) is rejected
    assert await RepoState(redis, 1).open_prs() == 0
    (entry,) = [e for e in await read_audit(redis) if e["kind"] == "pr.outcome"]
    assert (entry["number"], entry["fingerprint"]) == (12, FP)


async def test_reverting_a_merged_fix_makes_it_rejected(redis: Redis) -> None:
    memory = await remembered(redis)
    merge = "cd" * 20
    closed = {
        "repo_id": 1,
        "repo": "o/r",
        "number": 12,
        "merged": True,
        "head_ref": branch_name("autofix/", FP),
    }
    await record_pr_outcome(redis, closed | {"merge_commit_sha": merge}, "autofix/")
    assert not await memory.is_rejected(FP)
    assert await record_revert(redis, {"repo_id": 1, "repo": "o/r", "reverted": ["ef" * 20]}) == {
        "rejected": []
    }
    assert await record_revert(redis, {"repo_id": 1, "repo": "o/r", "reverted": [merge]}) == {
        "rejected": [FP]
    }
    assert await memory.is_rejected(FP)
    assert await redis.hgetall("autofix:stats:pr_outcomes") == {b"merged": b"1", b"reverted": b"1"}
    record = await memory.get(FP)
    assert record is not None
    assert record.pr_outcome == "reverted"
