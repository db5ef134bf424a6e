"""The pure rules of `/autofix revise` and of a thread's raised budget: when a revision may start,
what proves it (the PR's head as the baseline), what the model is told; and the cap every attempt of
a thread reads, on a real Redis."""

from __future__ import annotations

from dataclasses import replace

import pytest
from redis.asyncio import Redis

from app.repo_config import parse_repo_config
from jobs.commands.control import fetch_raised_cap, set_thread_budget
from jobs.commands.guidance import for_command, with_thread_budget
from jobs.commands.revision import Revise, decide_revise_start, judge_revision, render_revise_hint
from jobs.gate import GateFacts
from jobs.issue_repro import build_issue_task
from jobs.publish.body import FixFacts
from sandbox_runner.report import FailureReport
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome

BUG, OTHER = "tests/test_stats.py::test_mean", "tests/test_stats.py::test_sum"
P, F, S = Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED
REVISE = Revise(7, "autofix/v1-abc", "a" * 40, "maya")


def run(outcomes: dict[str, Outcome], cid: str = "c1", exit_code: int = 0) -> RunResult:
    patch = None if cid == BASELINE else PatchStatus(applied=True, files=["calc/stats.py"])
    tests = [TestOutcome(i, o) for i, o in outcomes.items()]
    return RunResult(cid, patch, exit_code, 3.0, tests, "junit", len(tests))


HEAD = run({BUG: P, OTHER: P}, BASELINE)


def test_a_revision_that_keeps_the_fixed_tests_passing_is_proven() -> None:
    verdict = judge_revision(HEAD, run({BUG: P, OTHER: P}), [BUG])
    assert verdict.proven
    assert verdict.fixed == [BUG]
    assert verdict.reason == f"keeps {BUG} passing; no regressions among 2 tests passing at the head"


@pytest.mark.parametrize(
    ("after", "exit_code", "reason"),
    [
        ({BUG: F, OTHER: P}, 1, f"regressions: {BUG} passed at baseline and do not pass now"),
        ({BUG: P, OTHER: F}, 1, f"regressions: {OTHER} passed at baseline and do not pass now"),
        ({BUG: S, OTHER: P}, 0, f"tampering: {BUG} was skipped"),
        ({OTHER: P}, 0, f"tampering: {BUG} did not run; collected 1 tests, 2 at baseline"),
    ],
)
def test_a_revision_that_breaks_the_fix_or_anything_else_is_not(
    after: dict[str, Outcome], exit_code: int, reason: str
) -> None:
    verdict = judge_revision(HEAD, run(after, exit_code=exit_code), [BUG])
    assert not verdict.proven
    assert verdict.reason == reason


def test_without_named_tests_the_suite_must_still_pass() -> None:
    assert judge_revision(HEAD, run({BUG: P, OTHER: P}), []).reason == (
        "the tests still pass; no regressions among 2 tests passing at the head"
    )
    assert not judge_revision(HEAD, run({BUG: P, OTHER: P}, exit_code=2), []).proven
    unapplied = run({BUG: P, OTHER: P})
    unapplied.patch = PatchStatus(applied=False, reason="does not apply")
    assert judge_revision(HEAD, unapplied, [BUG]).reason == "patch not applied: does not apply"


def test_a_revision_starts_only_from_the_head_that_was_asked_about() -> None:
    assert decide_revise_start(REVISE, "open", "a" * 40) is None
    assert decide_revise_start(REVISE, "open", "c" * 40, ours="c" * 40) is None  # a retried job's own commit
    assert (
        decide_revise_start(REVISE, "closed", "a" * 40)
        == "#7 was closed before the revision started, so I did nothing."
    )
    assert decide_revise_start(REVISE, "open", "b" * 40) == (
        "`autofix/v1-abc` moved since the revise was asked (it was at aaaaaaa, it is at bbbbbbb), so I did "
        "not build on it: ask again with `/autofix revise` to revise the new head."
    )


def test_the_request_names_the_revision() -> None:
    request = {"revise": {"number": 7, "branch": "autofix/v1-abc", "head_sha": "a" * 40, "by": "maya"}}
    assert Revise.from_request(request) == REVISE
    assert Revise.from_request({}) is None


def test_the_model_is_shown_the_fix_so_far_cut_to_size() -> None:
    hint = render_revise_hint(REVISE, "diff --git a/x b/x\n+y\n")
    assert hint.startswith("Your checkout is the head of #7 (aaaaaaa): the fix is already in it.")
    assert hint.endswith("diff --git a/x b/x\n+y")
    long = render_revise_hint(REVISE, "+" + "y" * 10_000)
    assert long.endswith("… (diff cut here)")
    assert len(long) < 6400


def test_a_raised_cap_only_raises() -> None:
    config = parse_repo_config("limits: {dollars_per_job: 3}\n")
    assert with_thread_budget(config, {}, None) is config
    assert with_thread_budget(config, {}, 2.0) is config
    assert with_thread_budget(config, {"dollars_per_job": 4}, None)["limits.dollars_per_job"] == 4.0
    assert with_thread_budget(config, {"dollars_per_job": 4}, 6.5)["limits.dollars_per_job"] == 6.5


async def test_every_attempt_of_a_thread_reads_its_raised_cap(redis: Redis) -> None:
    await set_thread_budget(redis, 1, 12, 5.0)  # the issue
    await set_thread_budget(redis, 1, 30, 8.0)  # a bot PR
    await set_thread_budget(redis, 2, 12, 50.0)  # another repository
    label = {"repo_id": 1, "issue_number": 12}
    check = {"repo_id": 1, "pull_requests": [12, 13]}
    revise = {"repo_id": 1, "issue_number": 12, "update_pr": 30}
    assert await fetch_raised_cap(redis, label) == 5.0
    assert await fetch_raised_cap(redis, check) == 5.0
    assert await fetch_raised_cap(redis, revise) == 8.0
    assert await fetch_raised_cap(redis, {"repo_id": 1, "pull_requests": [99]}) is None
    assert await fetch_raised_cap(redis, {"repo_id": 1}) is None


def test_the_gate_lets_a_command_update_its_bot_pr_and_a_revise_ignore_newer_commits() -> None:
    facts = GateFacts(kind="check", open_bot_pr_for_fingerprint=30, newer_commit_on_branch=True)
    assert for_command(facts, {}) == facts  # a label or a check: nothing changes
    retry = for_command(facts, {"update_pr": 30})
    assert (retry.open_bot_pr_for_fingerprint, retry.newer_commit_on_branch) == (None, True)
    revise = for_command(facts, {"update_pr": 30, "revise": {"number": 30}})
    assert (revise.open_bot_pr_for_fingerprint, revise.newer_commit_on_branch) == (None, False)
    other = for_command(facts, {"update_pr": 31})
    assert other.open_bot_pr_for_fingerprint == 30  # another PR covers the failure: still a reason to skip
    budget = replace(facts, dollars_today=99.0)
    assert for_command(budget, {"update_pr": 30, "revise": {}}).dollars_today == 99.0


def test_an_issue_task_with_a_traceback_still_carries_the_maintainers_words() -> None:
    traced = FailureReport({"kind": "issue"}, "test_failure", True, failing_tests=[BUG])
    with_report = build_issue_task(traced, "issue text\n\nName the count.", "Name the count.")
    assert (with_report.report, with_report.hint) == (traced, "Name the count.")
    plain = build_issue_task(FailureReport({"kind": "issue"}, "unknown", True), "text", "words")
    assert (plain.report, plain.issue_text, plain.hint) == (None, "text", None)


def test_a_revisions_facts_keep_the_failures_diagnosis() -> None:
    facts = FixFacts("v1:x", "j", "test_failure", None, None, [BUG], [], None, "name the count", "w", "y", "")
    Revise(7, "b", "a" * 40, "maya", "mean divides by len + 1").describe(facts)
    assert (facts.root_cause, facts.revision) == ("mean divides by len + 1", "name the count")
    assert (facts.revised_from, facts.revised_by) == ("a" * 40, "maya")
    unknown = FixFacts("v1:x", "j", "test_failure", None, None, [], [], None, "name the count", "w", "y", "")
    Revise(7, "b", "a" * 40, "maya").describe(unknown)
    assert unknown.root_cause == "name the count"
