"""fix_issue end to end: a labelled issue with a traceback becomes a reproduction test plus a fix, in
a PR that says "Fixes #N"; an issue nobody can reproduce gets a comment and no PR. The local GitHub,
the scripted model server, the real LocalSandbox and a real Redis."""

from __future__ import annotations

from typing import Any

from jobs.deps import Deps
from jobs.fix_issue import fix_issue
from jobs.issue_repro import new_failing_tests
from sandbox_runner.result import BASELINE, Outcome, RunResult, TestOutcome
from tests.fakes.anthropic_messages import reply, tool_use
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, Served
from tests.pipeline_support import FILES, show
from tests.support import OWNER, LocalGitHub

ISSUE = """mean() is wrong: mean([1, 2, 3]) gives 1.5, not 2.

```
Traceback (most recent call last):
  File "/home/me/app/calc/stats.py", line 2, in mean
AssertionError: 1.5 != 2
```
"""
REPRO_TEST = "from calc.stats import mean\n\n\ndef test_mean_of_three():\n    assert mean([1, 2, 3]) == 2\n"


def request_for(gh: LocalGitHub, repo: Any, number: int, sender: str = "mona") -> dict[str, Any]:
    """The job `issues.labeled` queues when `sender` labels `number`; mona, who writes the issues
    here, is made a collaborator with write (the job asks for the labeller's permission when it
    starts, and for the author's: see tests/reliability/test_f_triggers.py)."""
    if sender == "mona":
        gh.sim.set_permission(repo, "mona", "write")
    return {
        "repo_id": repo.id,
        "repo": repo.full_name,
        "installation_id": gh.installation_id,
        "issue_number": number,
        "label_event": "2026-11-21T07:00:00Z",
        "sender": sender,
    }


def repro_and_fix_turns() -> list[Any]:
    """The model's turns for ISSUE: a reproduction test that fails, then the fix that makes it pass."""
    create = {"command": "create", "path": "tests/test_issue_repro.py", "file_text": REPRO_TEST}
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    return [
        reply(tool_use("editor", create)),
        reply(tool_use("submit_diagnosis", DIAGNOSIS | {"where": "tests/test_issue_repro.py"})),
        reply(tool_use("editor", edit)),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    ]


def stats_repo(gh: LocalGitHub) -> Any:
    files = FILES | {"tests/test_stats.py": "def test_nothing():\n    pass\n"}
    return gh.sim.create_repo(OWNER, "demo", files=files)


def test_new_failing_tests_are_those_the_reproduction_added() -> None:
    base = RunResult(BASELINE, None, 0, 1.0, [TestOutcome("t.py::a", Outcome.PASSED)], "junit")
    repro = RunResult(
        "repro", None, 1, 1.0, [*base.tests, TestOutcome("t_new.py::b", Outcome.FAILED)], "junit"
    )
    assert new_failing_tests(base, repro) == ["t_new.py::b"]


async def test_a_labelled_issue_gets_a_reproduction_test_and_a_fix(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    repo = stats_repo(gh)
    issue = gh.sim.open_issue(repo, "mean() divides by the wrong count", ISSUE)
    gh.sim.label_issue(repo, issue.number, "autofix")  # what queued the job
    model.state.script(*repro_and_fix_turns())

    result = await fix_issue({"deps": deps, "job_id": "issue:1"}, request_for(gh, repo, issue.number))

    assert result["outcome"] == "pr_opened", result
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert pr.pull.head_ref == f"autofix/issue-{issue.number}"
    assert (pr.body or "").startswith(f"Fixes #{issue.number}"), "an issue by a writer: no draft note"
    assert not pr.pull.draft, "pull_request.draft is false in this repository's config"
    assert "autofix:needs-human" not in pr.labels
    assert "| `tests/test_issue_repro.py::test_mean_of_three` | failed | passed |" in (pr.body or "")
    assert show(repo, f"{pr.pull.head_ref}:tests/test_issue_repro.py") == REPRO_TEST
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
    status = [c for c in gh.state.comments.values() if c.issue_number == issue.number]
    assert len(status) == 1
    assert "Autofix finished: pr opened." in status[0].body


async def test_an_issue_without_a_failing_reproduction_gets_a_comment_only(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is slow", "It takes a while on big lists.")
    gh.sim.label_issue(repo, issue.number, "autofix")  # what queued the job
    passing = "from calc.stats import mean\n\n\ndef test_mean_one():\n    assert mean([0]) == 0\n"
    model.state.script(
        reply(
            tool_use(
                "editor", {"command": "create", "path": "tests/test_issue_repro.py", "file_text": passing}
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS | {"where": "tests/test_issue_repro.py"})),
    )

    result = await fix_issue({"deps": deps, "job_id": "issue:2"}, request_for(gh, repo, issue.number))

    assert result["outcome"] == "unproven", result
    assert not [i for i in repo.issues.values() if i.pull is not None]
    (comment,) = [c for c in gh.state.comments.values() if c.issue_number == issue.number]
    assert comment.body.startswith("**Autofix could not prove a fix**")


async def test_without_a_reproduction_the_config_can_ask_for_a_draft_marked_unproven(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    config = FILES[".github/autofix.yml"] + "issues: {without_reproduction: draft}\n"
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES | {".github/autofix.yml": config})
    issue = gh.sim.open_issue(repo, "mean() is off", "mean([1, 2, 3]) looks wrong to me.")
    gh.sim.label_issue(repo, issue.number, "autofix")  # what queued the job
    passing = "from calc.stats import mean\n\n\ndef test_mean_one():\n    assert mean([0]) == 0\n"
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    model.state.script(
        reply(
            tool_use(
                "editor", {"command": "create", "path": "tests/test_issue_repro.py", "file_text": passing}
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS | {"where": "tests/test_issue_repro.py"})),
        reply(tool_use("editor", edit)),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )

    result = await fix_issue({"deps": deps, "job_id": "issue:3"}, request_for(gh, repo, issue.number))

    assert result["outcome"] == "draft_unproven", result
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert pr.pull.draft
    assert "autofix:needs-human" in pr.labels
    assert (pr.body or "").startswith("> [!WARNING]\n> **Unproven.**")
    assert show(repo, f"{pr.pull.head_ref}:tests/test_issue_repro.py") == "", "a passing test proves nothing"
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
