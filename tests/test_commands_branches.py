"""`/autofix apply` and `undo` on the local GitHub, after the real pipeline proved a fix (`revise`:
tests/test_revise_e2e.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from jobs.deps import Deps
from tests.fakes.github.state import Repo
from tests.patch_support import BUGGY, FIXED, STATS, Served
from tests.pipeline_support import show
from tests.support import LocalGitHub
from tests.test_commands_e2e import Talk, proven_fix


def head(repo: Repo, branch: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo.path), "rev-parse", branch], capture_output=True, text=True
    )
    return done.stdout.strip()


def author(repo: Repo, sha: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo.path), "log", "-1", "--format=%an|%s", sha],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


async def test_apply_pushes_the_proven_fix_then_undo_reverts_the_bots_commit_only(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, broken, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    bot_branch = repo.issues[bot_pr].pull.head_ref  # type: ignore[union-attr]
    talk = Talk(gh, deps, repo)

    assert (await talk.say(bot_pr, "/autofix apply"))["outcome"] == "failed"  # not on the bot PR itself
    applied = await talk.say(broken, "/autofix apply")

    assert applied["outcome"] == "done", talk.replies(broken)
    assert head(repo, "feature") == head(repo, bot_branch)
    assert FIXED in show(repo, "feature:calc/stats.py")
    assert talk.replies(broken)[-1] == (
        f"Applied the fix from #{bot_pr} to `feature` ({head(repo, bot_branch)[:7]})."
    )

    fix_sha = head(repo, bot_branch)
    undone = await talk.say(bot_pr, "/autofix undo")
    assert undone["outcome"] == "done", talk.replies(bot_pr)
    revert = head(repo, bot_branch)
    assert show(repo, f"{bot_branch}:calc/stats.py") == STATS  # the bug is back on the bot's branch
    bot, subject = author(repo, revert).split("|")
    assert bot.endswith("[bot]")
    assert subject.startswith('Revert "')
    assert talk.replies(bot_pr)[-1] == f"Reverted {fix_sha[:7]} on `{bot_branch}` with {revert[:7]}."
    assert head(repo, "feature") == fix_sha  # the applied fix stays where it was applied

    gh.sim.commit(repo, bot_branch, {"calc/stats.py": STATS.replace(BUGGY, FIXED)}, "By hand", "mona")
    refused = await talk.say(bot_pr, "/autofix undo")
    assert refused["outcome"] == "failed"
    assert "is not Autofix's, so I leave it alone" in talk.replies(bot_pr)[-1]
    assert author(repo, head(repo, bot_branch)) == "mona|By hand"


async def test_apply_is_refused_when_the_pr_head_moved(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, broken, _, _ = await proven_fix(gh, deps, model, tmp_path)
    proven_on = head(repo, "feature")
    moved = gh.sim.commit(repo, "feature", {"NOTES.md": "more work\n"}, "More work", "mona")
    talk = Talk(gh, deps, repo)

    result = await talk.say(broken, "/autofix apply")

    assert result["outcome"] == "failed"
    assert talk.reactions() == ["eyes", "confused"]
    assert talk.replies(broken)[-1] == (
        f"The branch moved since the fix was proven (on {proven_on[:7]}, now {moved[:7]}), so it is not "
        "proven on the current head: `/autofix retry` for a fix of the new head."
    )
    assert head(repo, "feature") == moved


async def test_apply_says_github_refused_a_workflow_write_not_that_the_branch_moved(
    monkeypatch: Any,
) -> None:
    from types import SimpleNamespace

    from app.github.git_data import WorkflowWriteRefused
    from jobs.commands import branches

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise WorkflowWriteRefused(".github/workflows/ci.yml", 422)

    monkeypatch.setattr(branches, "upsert_branch", refused)
    asked: Any = SimpleNamespace(inst=None, owner="o", name="r")
    said = await branches._fast_forward(asked, "feature", "a" * 40)
    assert said == (
        "GitHub refused to write a workflow file: the App has no workflows permission "
        "(.github/workflows/ci.yml), so `feature` is unchanged."
    )
