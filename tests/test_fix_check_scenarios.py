"""More of the fix-check scenarios users meet: the same failure in several matrix jobs, a broken pull
request from this repository, a budget that is spent, and a fix that was rejected before."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from arq import Retry

from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.patch.memory import FixMemory
from jobs.publish.naming import branch_name
from jobs.publish.state_block import parse_state
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github import gitstore, pullfacts
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, STATS, Served
from tests.pipeline_support import FILES, broken_pr, check_request, failing_check, real_pytest_log, show
from tests.support import LocalGitHub


def fix_turns() -> list[Any]:
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    return [reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", DIAGNOSIS))]


def pulls(repo: Any) -> list[Any]:
    return [i for i in repo.issues.values() if i.pull is not None]


async def test_three_matrix_jobs_failing_alike_make_one_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    log = real_pytest_log(tmp_path / "again", FILES)
    requests = [request]
    for name in ("tests (3.12)", "tests (3.13)"):
        check = gh.sim.fail_check(repo, request["head_sha"], name, log=log)
        requests.append(request | {"check_run_id": check.id, "check_name": name})
    model.state.script(*fix_turns())

    jobs = [fix_check_run({"deps": deps, "job_id": f"check:{i}"}, r) for i, r in enumerate(requests)]
    results = await asyncio.gather(*jobs, return_exceptions=True)

    opened = [r for r in results if isinstance(r, dict) and r["outcome"] == "pr_opened"]
    deferred = [r for r in results if isinstance(r, Retry)]
    assert (len(opened), len(deferred)) == (1, 2), results
    for i, r in enumerate(requests):  # arq runs the deferred jobs again: they find the PR
        if isinstance(results[i], Retry):
            again = await fix_check_run({"deps": deps, "job_id": f"check:{i}"}, r)
            assert again["outcome"] == "skipped"
    assert len(pulls(repo)) == 1


async def test_a_broken_pr_gets_a_fix_into_its_branch_and_a_link(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, broken, _, request = broken_pr(gh, tmp_path)
    model.state.script(*fix_turns())

    result = await fix_check_run({"deps": deps, "job_id": "check:pr"}, request)

    assert result["outcome"] == "pr_opened", result
    (fix,) = [p for p in pulls(repo) if p.number != broken.number]
    assert fix.pull is not None
    assert (fix.pull.base_ref, fix.pull.head_ref) == ("feature", branch_name("autofix/", _fp(fix), "feature"))
    assert FIXED in show(repo, f"{fix.pull.head_ref}:calc/stats.py")
    on_broken = [c.body for c in gh.state.comments.values() if c.issue_number == broken.number]
    assert any(f"in #{fix.number}" in body for body in on_broken), "a comment links the fix"
    assert any(body.startswith("**Autofix finished: pr opened.**") for body in on_broken), "the sticky status"


def _fp(pr: Any) -> str:
    state = parse_state(pr.body)
    assert state is not None
    return str(state["fingerprint"])


async def test_a_spent_budget_skips_with_the_reason(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    files = FILES | {".github/autofix.yml": FILES[".github/autofix.yml"] + "limits: {jobs_per_day: 0}\n"}
    _, request = failing_check(gh, tmp_path, files)
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert (result["outcome"], result["reason"]) == ("skipped", "Budget reached: 0 of 0 fix attempts today.")
    assert model.state.bodies == []


async def test_a_fingerprint_whose_fix_was_rejected_is_not_tried_again(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    model.state.script(*fix_turns())
    first = await fix_check_run({"deps": deps, "job_id": "j1"}, request)
    assert first["outcome"] == "pr_opened"
    (pr,) = pulls(repo)
    memory = FixMemory(deps.redis, repo.id)
    assert await memory.set_pr(_fp(pr), pr.number, "closed")  # a maintainer closed it unmerged
    gh.sim.close_pr(repo, pr.number)

    again = await fix_check_run({"deps": deps, "job_id": "j2"}, request)

    assert (again["outcome"], again["reason"]) == (
        "skipped",
        "A fix for this failure was closed unmerged or reverted before.",
    )


async def test_a_flaky_failure_gets_the_evidence_and_no_patch(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    counter = tmp_path / "runs"  # outside the checkout: every run of the test counts, CI's included
    flaky = (
        "from pathlib import Path\n\n\ndef test_sometimes():\n"
        f"    p = Path({str(counter)!r})\n"
        "    n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "    p.write_text(str(n))\n"
        "    assert n % 2 == 0, 'odd run'\n"
    )
    files = FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED), "tests/test_stats.py": flaky}
    repo = gh.sim.create_repo(
        "octo-org", "demo", files=FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED)}
    )
    sha = gh.sim.commit(repo, "feature", {"tests/test_stats.py": flaky}, "A timing test", "mona")
    pr = gh.sim.open_pr(repo, "feature", title="A timing test")
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, files))  # run 1: fails
    request = check_request(gh, repo, check.id, sha, "feature", [pr.number])

    result = await fix_check_run({"deps": deps, "job_id": "check:flaky"}, request)

    assert result["outcome"] == "flaky", result
    assert model.state.bodies == []  # no model call for a flaky test
    assert len(pulls(repo)) == 1
    bodies = [c.body for c in gh.state.comments.values() if c.issue_number == pr.number]
    flaky_comment = next(b for b in bodies if b.startswith("**This failure looks flaky**"))
    assert "- run 1: passed" in flaky_comment
    assert "- run 2: failed" in flaky_comment


async def test_a_broken_fork_pr_gets_the_proven_patch_as_a_comment_and_nothing_is_pushed(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    good = FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED)}
    repo = gh.sim.create_repo("octo-org", "demo", files=good)
    fork, pr = gh.sim.open_fork_pr(repo, "mallory", "patch-1", {"calc/stats.py": STATS}, "Rework mean()")
    assert pr.pull is not None
    sha = pullfacts.refresh(repo, pr).head_sha
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, FILES))
    request = check_request(gh, repo, check.id, sha, "patch-1")  # as GitHub sends it for a fork's commit
    base_refs, fork_refs = refs(repo), refs(fork)
    model.state.script(*fix_turns())

    result = await fix_check_run({"deps": deps, "job_id": "check:fork"}, request)

    assert result["outcome"] == "suggested", result
    assert len(pulls(repo)) == 1, "no PR of ours"
    assert (refs(repo), refs(fork)) == (base_refs, fork_refs), "nothing pushed anywhere"
    bodies = [c.body for c in gh.state.comments.values() if c.issue_number == pr.number]
    suggestion = next(b for b in bodies if b.startswith("**Autofix found and proved a fix**"))
    assert "It does not push to forks" in suggestion
    assert FIXED.strip() in suggestion
    touched_fork = [r for r in gh.state.requests if "/mallory/" in r.path]
    assert touched_fork == [], "no call, read or write, was made against the fork"


def refs(repo: Any) -> dict[str, str]:
    return gitstore.list_refs(repo.path, "refs/heads/")
