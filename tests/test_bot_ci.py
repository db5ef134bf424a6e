"""CI on the bot's own PR: each check recorded per commit, the PR told whether real CI is green."""

from __future__ import annotations

from redis.asyncio import Redis

from app.github.client import GitHubApp
from jobs.bot_ci import record_bot_check, summarise
from tests.github_support import Clock
from tests.support import OWNER, LocalGitHub


def test_the_summary_says_green_red_or_pending() -> None:
    assert summarise({})[0] == "pending"
    assert summarise({"tests": "success", "lint": "skipped"}) == (
        "green",
        "**Real CI is green on this fix**: 2 check(s) passed.",
    )
    state, text = summarise({"tests": "failure", "lint": "success"})
    assert state == "red"
    assert "`tests` did not pass" in text
    assert "/autofix revise" in text


async def test_checks_on_the_bot_branch_update_one_comment_on_its_pr(
    gh: LocalGitHub, redis: Redis, app_settings: object, clock: Clock
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    branch = "autofix/v1-0123456789abcdef"
    sha = gh.sim.commit(repo, branch, {"a.py": "x = 2\n"}, "fix", "mona")
    pr = gh.sim.open_pr(repo, branch, title="fix: x")
    settings = app_settings.model_copy(update={"github_api_url": gh.url})  # type: ignore[attr-defined]
    inst = GitHubApp(settings, redis, clock=clock, sleep=clock.sleep).installation(gh.installation_id)
    base = {"repo_id": repo.id, "repo": repo.full_name, "head_sha": sha, "head_branch": branch,
            "pull_requests": [pr.number]}  # fmt: skip

    first = await record_bot_check(
        redis, base | {"check_name": "lint", "conclusion": "success"}, "autofix/", inst
    )
    second = await record_bot_check(
        redis, base | {"check_name": "tests", "conclusion": "failure"}, "autofix/", inst
    )

    assert (first["state"], second["state"]) == ("green", "red")
    assert second["fingerprint"] == "v1:0123456789abcdef"
    (comment,) = [c for c in gh.state.comments.values() if c.issue_number == pr.number]
    assert comment.body.startswith("**Real CI is red on this fix**: `tests` did not pass")
