"""`/autofix budget` raises the per-attempt cap for every attempt of its thread, not only those a
command starts: a check-triggered attempt on the same pull request runs with the raised cap (the
real pipeline on the local GitHub, the scripted model and the LocalSandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.repo_config import RepoConfig
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.patch.agent import Engine, build_engine
from jobs.patch.budget import Limits
from tests.patch_support import Served
from tests.support import LocalGitHub
from tests.test_commands_e2e import Talk, broken_pr, fix_turns, proven_fix


def engines_built(deps: Deps) -> list[RepoConfig]:
    """The configs the job builds its patch engine with (the real engine is built and used)."""
    seen: list[RepoConfig] = []

    def engine(config: RepoConfig) -> Engine:
        seen.append(config)
        return build_engine(deps.settings, config)

    deps.engine = engine
    return seen


async def test_a_check_triggered_attempt_runs_with_the_cap_raised_on_its_pull_request(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    deps.settings = deps.settings.model_copy(update={"autofix_max_dollars": 10.0})
    repo, broken, request = broken_pr(gh, tmp_path)
    talk = Talk(gh, deps, repo)
    assert (await talk.say(broken, "/autofix budget 5", user="lead", role="maintain"))["outcome"] == "done"
    assert (
        talk.replies(broken)[-1]
        == "The per-attempt cap for this thread is now $5.00, for every new attempt here."
    )
    seen = engines_built(deps)
    model.state.script(*fix_turns())

    done = await fix_check_run({"deps": deps, "job_id": "check:budget"}, request)  # no command started it

    assert done["outcome"] == "pr_opened", done
    [config] = seen
    assert config["limits.dollars_per_job"] == 5.0
    assert Limits.from_settings(deps.settings, config).max_dollars == 5.0


async def test_a_cap_raised_on_the_bot_pr_reaches_the_pull_request_it_fixes(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, broken, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    talk = Talk(gh, deps, repo)

    await talk.say(bot_pr, "/autofix budget 4.5", user="lead", role="maintain")
    await talk.say(broken, "/autofix status")

    assert "$4.50 per attempt here" in talk.replies(broken)[-1]


async def test_without_a_raised_cap_the_config_decides(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    _, _, request = broken_pr(gh, tmp_path)
    seen = engines_built(deps)
    model.state.script(*fix_turns())

    await fix_check_run({"deps": deps, "job_id": "check:plain"}, request)

    assert [c["limits.dollars_per_job"] for c in seen] == [2.0]
