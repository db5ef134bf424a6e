"""A bot PR's fate is counted in the day's stats once per PR, a revert once per reverted commit
(real Redis): a redelivered close or push adds nothing."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app import stats
from jobs.pr_outcome import record_pr_outcome, record_revert

FP_BRANCH = "autofix/v1-0123456789abcdef"


async def test_merged_closed_and_reverted_prs_are_counted_once_each(redis: Redis) -> None:
    merged = {"repo_id": 1, "repo": "o/r", "number": 12, "merged": True, "head_ref": FP_BRANCH,
              "merge_commit_sha": "a" * 40}  # fmt: skip
    closed = {
        "repo_id": 1,
        "repo": "o/r",
        "number": 13,
        "merged": False,
        "head_ref": "autofix/v1-1111111111111111",
    }
    for request in (merged, merged, closed):  # the merge delivered twice
        await record_pr_outcome(redis, request, "autofix/")
    revert = {"repo_id": 1, "repo": "o/r", "reverted": ["a" * 40, "b" * 40]}  # b merged no bot fix
    await record_revert(redis, revert)
    await record_revert(redis, revert)
    (day,) = await stats.read_days(redis, [stats.day_of(time.time())])
    assert day.by_prefix("prs:") == {"merged": 1, "closed": 1, "reverted": 1}
    assert (await stats.read_total(redis))["prs:merged"] == 1
