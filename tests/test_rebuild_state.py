"""`autofix rebuild-state` against the local GitHub: Redis is wiped, then rebuilt from the hidden state
blocks of the bot's pull requests (open, closed unmerged, merged)."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.job_records import JobStore
from app.repo_state import RepoState
from app.settings import Settings
from jobs.patch.memory import FixMemory
from jobs.pr_outcome import MERGED
from jobs.publish.state_block import render_state
from jobs.rebuild_state import plan_restores, rebuild_state
from tests.fakes.github.state import Repo
from tests.support import OWNER, LocalGitHub

FP_OPEN, FP_REJECTED, FP_MERGED = "v1:00000000000000aa", "v1:00000000000000bb", "v1:00000000000000cc"


def body(fingerprint: str, job_id: str, source: str = "check") -> str:
    state = {
        "fingerprint": fingerprint,
        "job_id": job_id,
        "source": source,
        "attempt": 1,
        "base_sha": "0" * 40,
    }
    return f"### What broke\n\ntext\n\n{render_state(state)}\n"


def bot_pr(gh: LocalGitHub, repo: Repo, branch: str, text: str) -> int:
    gh.sim.commit(repo, branch, {"calc/x.py": f"# {branch}\n"}, "fix", "autofix-test[bot]")
    return gh.sim.open_pr(repo, branch, "Fix", text, user="autofix-test[bot]").number


async def test_redis_lost_then_rebuilt_from_the_bot_prs(
    gh: LocalGitHub, github: GitHubApp, app_settings: Settings, redis: Redis
) -> None:
    settings = app_settings.model_copy(update={"github_api_url": gh.url})
    app = GitHubApp(settings, redis, clock=github.clock, sleep=github.sleep, jitter=lambda: 0.0)
    repo = gh.sim.create_repo(OWNER, "demo", files={"calc/x.py": "x = 1\n"})
    open_pr = bot_pr(gh, repo, "autofix/v1-00000000000000aa", body(FP_OPEN, "check:1:a:tests"))
    rejected = bot_pr(gh, repo, "autofix/v1-00000000000000bb", body(FP_REJECTED, "check:1:b:tests"))
    merged = bot_pr(gh, repo, "autofix/issue-7", body(FP_MERGED, "issue:1:7:t", source="issue"))
    gh.sim.commit(repo, "feature", {"calc/y.py": "y = 2\n"}, "a person's change", "mona")
    gh.sim.open_pr(repo, "feature", "Not ours", "no state block")
    gh.sim.close_pr(repo, rejected)
    gh.sim.merge_pr(repo, merged)
    await redis.flushdb()  # the outage: everything Redis knew is gone

    summary = await rebuild_state(app, redis, settings)

    assert (summary.repositories, summary.pull_requests) == (1, 3)
    assert (summary.open_prs, summary.rejected, summary.merged, summary.job_records) == (1, 1, 1, 3)
    assert await RepoState(redis, repo.id).open_prs() == 1
    memory = FixMemory(redis, repo.id)
    assert await memory.is_rejected(FP_REJECTED)
    assert not await memory.is_rejected(FP_OPEN)
    pull = repo.issues[merged].pull
    assert pull is not None
    merged_key = MERGED.format(repo_id=repo.id, sha=pull.merge_commit_sha)
    assert json.loads(await redis.get(merged_key) or b"{}") == {"fingerprint": FP_MERGED, "number": merged}
    record = await JobStore(redis).get("issue:1:7:t")
    assert record is not None
    assert (record.kind, record.outcome, record.status) == ("fix_issue", "pr_opened", "done")
    assert record.request["pr"] == merged
    assert open_pr not in (rejected, merged)

    again = await rebuild_state(app, redis, settings)  # idempotent: nothing new, nothing doubled
    assert again.job_records == 0
    assert await RepoState(redis, repo.id).open_prs() == 1


def test_plan_skips_other_branches_old_closed_prs_and_unreadable_blocks() -> None:
    repo = {"id": 1, "full_name": "o/r"}
    pulls = [
        {"number": 1, "state": "open", "head": {"ref": "feature"}, "body": body(FP_OPEN, "j1")},
        {"number": 2, "state": "closed", "head": {"ref": "autofix/x"}, "updated_at": "2020-01-01T00:00:00Z",
         "body": body(FP_OPEN, "j2")},
        {"number": 3, "state": "open", "head": {"ref": "autofix/y"}, "body": "edited away"},
        {"number": 4, "state": "closed", "head": {"ref": "autofix/z"}, "updated_at": "2026-11-20T00:00:00Z",
         "merged_at": None, "body": body(FP_REJECTED, "j4")},
    ]  # fmt: skip
    restores, skipped = plan_restores(repo, pulls, "autofix/", since=1_700_000_000)
    assert [(r.number, r.state, r.fingerprint) for r in restores] == [(4, "closed", FP_REJECTED)]
    assert skipped == ["o/r#3: no readable state block"]
