"""fix_check_run end to end: the local GitHub, the scripted model server, the real LocalSandbox and a
real Redis. A push breaks a test on the default branch → one proven PR; the same job again makes no
second one; a broken config and an unproven fix end as the maintainer would want to read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.publish.state_block import parse_state
from tests.fakes.anthropic_messages import reply, tool_use
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, Served
from tests.pipeline_support import FILES, bot_check, failing_check, show
from tests.support import LocalGitHub


def fix_script() -> list[Any]:
    return [
        reply(tool_use("editor", {"command": "view", "path": "calc/stats.py"})),
        reply(
            tool_use(
                "editor",
                {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED},
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    ]


async def test_a_broken_default_branch_gets_one_proven_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    model.state.script(*fix_script())
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"

    result = await fix_check_run({"deps": deps, "job_id": job_id}, request)

    assert result["outcome"] == "pr_opened", result
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert pr.pull.head_ref.startswith("autofix/v1-")
    assert pr.pull.base_ref == "main"
    assert pr.title == "fix(stats): mean divides by len(values) + 1"
    assert "| `tests/test_stats.py::test_mean` | failed | passed |" in (pr.body or "")
    state = parse_state(pr.body)
    assert state is not None
    assert state["job_id"] == job_id
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
    check = bot_check(gh, request["head_sha"])
    assert (check.status, check.conclusion) == ("completed", "success")

    again = await fix_check_run({"deps": deps, "job_id": job_id + ":dup"}, request)  # a duplicate job
    assert again["outcome"] == "skipped"
    assert "already proposes a fix" in again["reason"]
    assert len([i for i in repo.issues.values() if i.pull is not None]) == 1


async def test_a_broken_config_is_reported_on_the_check_run(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    files = FILES | {".github/autofix.yml": "candidates: lots\n"}
    _, request = failing_check(gh, tmp_path, files)
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert result["outcome"] == "config_error"
    check = bot_check(gh, request["head_sha"])
    assert (check.conclusion, check.output["title"]) == ("action_required", ".github/autofix.yml: 1 problem")
    assert "line 1: `candidates`: expected integer from 1 to 8, got 'lots'" in check.output["summary"]
    assert model.state.bodies == []  # no model call was made


async def test_no_proven_candidate_means_no_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    wrong = FIXED.replace("len(values)", "len(values) * 2")
    model.state.script(
        reply(
            tool_use(
                "editor",
                {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": wrong},
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert result["outcome"] == "unproven", result
    assert not [i for i in repo.issues.values() if i.pull is not None]
    check = bot_check(gh, request["head_sha"])
    assert check.conclusion == "action_required"


async def test_an_unproven_first_round_is_refined_into_a_proven_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    wrong = FIXED.replace("len(values)", "len(values) * 2")
    edit = {"command": "str_replace", "path": "calc/stats.py"}
    model.state.script(
        reply(tool_use("editor", edit | {"old_str": BUGGY, "new_str": wrong})),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
        reply(tool_use("editor", edit | {"old_str": wrong, "new_str": FIXED})),  # the refinement round
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert result["outcome"] == "pr_opened", result
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert "`c1-refined`" in (pr.body or "")
    refine_request = model.state.bodies[2]
    assert "did not pass in the sandbox" in str(refine_request["messages"][0]["content"])
