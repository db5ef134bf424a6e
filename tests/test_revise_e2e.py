"""`/autofix revise`, and a review that requests changes, end to end: the real pipeline opened the
bot PR; the revision starts from that PR's head (the model's checkout and the sandbox's baseline),
is proven in the LocalSandbox, and lands as a follow-up commit whose parent is the previous head."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from app.job_records import JobStore
from app.queue import QUEUE
from app.routing import route
from jobs import names
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.fix_issue import fix_issue
from jobs.received import run_command
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.state import Repo
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, Served
from tests.pipeline_support import FILES, show
from tests.support import OWNER, LocalGitHub
from tests.test_commands_e2e import Talk, proven_fix, queued
from tests.test_fix_issue_e2e import ISSUE, REPRO_TEST, request_for

NAMED = "    count = len(values)\n    return sum(values) / count"
REVISED = DIAGNOSIS | {"root_cause": "the count deserves a name, as the review asks"}


def revise_turns() -> list[Any]:
    """The model, in a checkout of the PR's head, edits the fix it finds there."""
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": FIXED, "new_str": NAMED}
    return [reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", REVISED))]


def git(repo: Repo, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(repo.path), *args], capture_output=True, text=True)
    return done.stdout.strip()


def branch_of(repo: Repo, number: int) -> str:
    pull = repo.issues[number].pull
    assert pull is not None
    return pull.head_ref


async def run_queued(deps: Deps) -> tuple[str, dict[str, Any], dict[str, Any]]:
    [(job_id, function, args)] = await queued(deps.redis)
    assert function == names.FIX_CHECK_RUN
    done = await fix_check_run({"deps": deps, "job_id": job_id}, args)
    return job_id, args, done


async def test_revise_adds_a_proven_follow_up_commit_on_the_pr_head(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, broken, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    branch = branch_of(repo, bot_pr)
    before = git(repo, "rev-parse", branch)
    talk = Talk(gh, deps, repo)

    await talk.say(bot_pr, "/autofix revise\nName the count.")
    assert talk.replies(bot_pr)[-1].endswith(
        f"a follow-up commit on top of `{before[:7]}` for your feedback, proven in the sandbox, will be "
        "added to this branch."
    )
    model.state.script(*revise_turns())
    seen = len(model.state.bodies)
    job_id, args, done = await run_queued(deps)

    assert args["revise"] == {
        "number": bot_pr, "branch": branch, "head_sha": before, "by": "maya",
        "root_cause": DIAGNOSIS["root_cause"],
    }  # fmt: skip
    assert done["outcome"] == "pr_updated", done
    after = git(repo, "rev-parse", branch)
    assert git(repo, "rev-list", "--parents", "-n", "1", after).split() == [after, before]
    assert git(repo, "diff", "--numstat", before, after) == "2\t1\tcalc/stats.py"  # only the revision
    assert NAMED in show(repo, f"{branch}:calc/stats.py")
    assert git(repo, "log", "-1", "--format=%s", after) == "fix(stats): address review feedback"
    prompt = json.dumps(model.state.bodies[seen])  # the revision's first request
    assert "Name the count." in prompt
    assert FIXED.strip() in prompt  # the fix so far, shown to the model as the PR's diff
    record = await JobStore(deps.redis).get(job_id)
    assert record is not None
    assert record.phase_named("reproduce") is None  # reproduced by the attempt that opened the PR
    [chosen] = [c for c in record.phase_named("publish").detail["candidates"] if "proven" in c]  # type: ignore[union-attr]
    assert "keeps tests/test_stats.py::test_mean passing" in chosen
    body = repo.issues[bot_pr].body or ""
    assert "### Revision" in body
    assert f"follow-up on `{before[:7]}`" in body
    assert f"| test | at `{before[:7]}` | after |" in body
    revision, broke = body.split("### What broke")
    assert REVISED["root_cause"] in revision  # what the revision changes
    assert broke.lstrip().startswith(DIAGNOSIS["root_cause"])  # what broke: still the failure's diagnosis
    assert repo.issues[bot_pr].title.startswith("fix(stats): mean divides")  # the PR keeps its title
    assert sorted(i.number for i in repo.issues.values() if i.pull is not None) == [broken, bot_pr]
    # a follow-up commit can be taken back alone: `undo` reverts the revision and keeps the fix
    assert (await talk.say(bot_pr, "/autofix undo"))["outcome"] == "done", talk.replies(bot_pr)
    assert git(repo, "rev-parse", f"{branch}^^") == before
    assert show(repo, f"{branch}:calc/stats.py") == show(repo, f"{before}:calc/stats.py")


async def test_a_review_requesting_changes_with_two_inline_comments_becomes_a_follow_up_commit(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, _, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    branch = branch_of(repo, bot_pr)
    before = git(repo, "rev-parse", branch)
    talk = Talk(gh, deps, repo)
    gh.sim.set_permission(repo, "rev", "write")
    comments = [
        {"path": "calc/stats.py", "line": 1, "body": "Keep this signature."},
        {"path": "calc/stats.py", "line": 2, "body": "Give len(values) a name."},
    ]

    review = gh.sim.review(repo, bot_pr, "REQUEST_CHANGES", "Readable, please.", comments, user="rev")
    event, payload = next((e, p) for e, p in reversed(talk.sent) if e == "pull_request_review")
    [job] = route(event, payload, deps.settings).jobs
    answered = await run_command({"deps": deps, "redis": deps.redis, "job_id": job.job_id}, job.args)
    assert answered["outcome"] == "done", answered
    assert job.args["review_id"] == review.id
    model.state.script(*revise_turns())
    seen = len(model.state.bodies)
    _, args, done = await run_queued(deps)

    assert done["outcome"] == "pr_updated", done
    assert args["revise"]["by"] == "rev"
    prompt = json.dumps(model.state.bodies[seen])  # the revision's first request
    assert "Readable, please." in prompt
    assert "calc/stats.py:1: Keep this signature." in prompt
    assert "calc/stats.py:2: Give len(values) a name." in prompt
    after = git(repo, "rev-parse", branch)
    assert git(repo, "rev-list", "--parents", "-n", "1", after).split() == [after, before]
    assert NAMED in show(repo, f"{branch}:calc/stats.py")


async def test_a_head_that_moved_since_the_revise_was_asked_is_left_alone(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, _, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    branch = branch_of(repo, bot_pr)
    asked_on = git(repo, "rev-parse", branch)
    talk = Talk(gh, deps, repo)
    await talk.say(bot_pr, "/autofix revise\nName the count.")
    pushed = gh.sim.commit(repo, branch, {"NOTES.md": "by hand\n"}, "By hand", "mona")

    model.state.script(*revise_turns())
    seen = len(model.state.bodies)
    _, _, done = await run_queued(deps)

    assert done["outcome"] == "revise_refused"
    assert done["reason"] == (
        f"`{branch}` moved since the revise was asked (it was at {asked_on[:7]}, it is at {pushed[:7]}), "
        "so I did not build on it: ask again with `/autofix revise` to revise the new head."
    )
    assert git(repo, "rev-parse", branch) == pushed
    assert len(model.state.bodies) == seen  # nothing was spent on it


async def test_retry_after_a_revise_starts_from_the_failure_again(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, _, bot_pr, _ = await proven_fix(gh, deps, model, tmp_path)
    talk = Talk(gh, deps, repo)
    await talk.say(bot_pr, "/autofix revise\nName the count.")
    model.state.script(*revise_turns())
    await run_queued(deps)
    await deps.redis.delete(QUEUE)  # it ran (called directly, not by a worker): off the queue

    await talk.say(bot_pr, "/autofix retry")

    [(_, _, args)] = await queued(deps.redis)
    assert "revise" not in args
    assert args["update_pr"] == bot_pr


async def test_revise_on_an_issues_pr_keeps_the_reproduction_and_adds_a_follow_up(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    files = FILES | {"tests/test_stats.py": "def test_nothing():\n    pass\n"}
    repo = gh.sim.create_repo(OWNER, "demo", files=files)
    issue = gh.sim.open_issue(repo, "mean() divides by the wrong count", ISSUE)
    gh.sim.label_issue(repo, issue.number, "autofix")  # what queued the job
    repro = {"command": "create", "path": "tests/test_issue_repro.py", "file_text": REPRO_TEST}
    fix = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    model.state.script(
        reply(tool_use("editor", repro)),
        reply(tool_use("submit_diagnosis", DIAGNOSIS | {"where": "tests/test_issue_repro.py"})),
        reply(tool_use("editor", fix)),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )
    opened = await fix_issue({"deps": deps, "job_id": "issue:1"}, request_for(gh, repo, issue.number))
    assert opened["outcome"] == "pr_opened", opened
    [bot_pr] = [i.number for i in repo.issues.values() if i.pull is not None]
    branch = branch_of(repo, bot_pr)
    before = git(repo, "rev-parse", branch)
    talk = Talk(gh, deps, repo)

    await talk.say(bot_pr, "/autofix revise\nName the count.")
    [(job_id, function, args)] = await queued(deps.redis)
    assert function == names.FIX_ISSUE
    model.state.script(*revise_turns())
    seen = len(model.state.bodies)
    done = await fix_issue({"deps": deps, "job_id": job_id}, args)

    assert done["outcome"] == "pr_updated", done
    after = git(repo, "rev-parse", branch)
    assert git(repo, "rev-list", "--parents", "-n", "1", after).split() == [after, before]
    assert git(repo, "diff", "--numstat", before, after) == "2\t1\tcalc/stats.py"
    assert show(repo, f"{branch}:tests/test_issue_repro.py") == REPRO_TEST  # the proof stays
    prompt = json.dumps(model.state.bodies[seen])
    assert "Name the count." in prompt
    assert "test_mean_of_three" in prompt  # the fix so far, reproduction test included
    body = repo.issues[bot_pr].body or ""
    assert body.startswith(f"Fixes #{issue.number}")
    assert "### Revision" in body
