"""The gate: every refusal, its order, and the go-ahead."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.repo_config import RepoConfig, parse_repo_config
from jobs.gate import Action, GateFacts, decide_gate

CHECK = GateFacts(
    kind="check",
    check_name="test (3.12)",
    check_app_id=15368,
    branch="main",
    is_default_branch=True,
    failure_class="test_failure",
    fingerprint="v1:0123456789abcdef",
    bot_app_id=424242,
)
DEFAULT = RepoConfig()


def decide(
    facts: GateFacts = CHECK, config: RepoConfig = DEFAULT, **changes: object
) -> tuple[Action, str, str]:
    d = decide_gate(replace(facts, **changes), config)  # type: ignore[arg-type]
    return d.action, d.reason, d.detail


def test_a_failing_test_on_the_default_branch_goes_ahead() -> None:
    assert decide()[:2] == (Action.FIX, "ok")
    assert decide_gate(CHECK, DEFAULT).proceed


@pytest.mark.parametrize(
    ("config", "changes", "reason", "detail"),
    [
        ("enabled: false", {}, "disabled", "`enabled: false`"),
        ("", {"repo_paused": True}, "paused", "resume it from the dashboard"),
        ("triggers: {checks: false}", {}, "trigger_off", "`triggers.checks` is false"),
        ("", {"branch": "autofix/v1-0123"}, "own_branch", "Autofix's own branches"),
        ("", {"check_app_id": 424242}, "own_check", "Autofix's own"),
        ("checks: ['lint']", {}, "check_not_watched", "`test (3.12)` is not in `checks`"),
        (
            "check_apps: [github-actions]",
            {"check_app": "circleci-checks"},
            "check_app_not_watched",
            "`circleci-checks`, not in `check_apps`",
        ),
        ("branches: [main]", {"branch": "dev", "is_default_branch": False}, "branch_not_allowed", "`dev`"),
        ("pull_requests: {forks: off}", {"pr_number": 4, "pr_from_fork": True}, "fork_off", "forks"),
        ("pull_requests: {same_repo: false}", {"pr_number": 4}, "pull_requests_off", "same_repo"),
        ("", {"fixable": False, "failure_class": "out_of_memory"}, "not_fixable", "out of memory failure"),
        ("", {"fingerprint_ignored": True}, "ignored", "/autofix ignore"),
        ("", {"fingerprint_rejected": True}, "rejected_before", "closed unmerged or reverted"),
        ("limits: {jobs_per_hour: 2}", {"jobs_last_hour": 2}, "budget_jobs_per_hour", "2 of 2 fix attempts"),
        ("limits: {jobs_per_day: 5}", {"jobs_today": 7}, "budget_jobs_per_day", "7 of 5"),
        ("limits: {dollars_per_day: 1}", {"dollars_today": 1.5}, "budget_dollars_per_day", "1.50 of 1.00"),
        ("", {"dollars_this_month": 200.0}, "budget_dollars_per_month", "200.00 of 200.00"),
        ("limits: {max_open_prs: 0}", {}, "budget_open_prs", "0 of 0 open Autofix pull requests"),
    ],
)
def test_each_refusal_has_a_reason_and_a_sentence(
    config: str, changes: dict[str, object], reason: str, detail: str
) -> None:
    action, got_reason, got_detail = decide(CHECK, parse_repo_config(config), **changes)
    assert (action, got_reason) == (Action.SKIP, reason)
    assert detail in got_detail


def test_a_newer_commit_cancels_and_an_open_pr_is_updated_not_duplicated() -> None:
    assert decide(newer_commit_on_branch=True)[:2] == (Action.CANCEL, "superseded")
    action, reason, detail = decide(open_bot_pr_for_fingerprint=17)
    assert (action, reason) == (Action.UPDATE_PR, "open_pr")
    assert "#17" in detail


def test_a_fork_pr_is_fixed_as_suggestions_only() -> None:
    action, reason, _ = decide(pr_number=9, pr_from_fork=True, branch="patch-1", is_default_branch=False)
    assert (action, reason) == (Action.SUGGEST, "fork_pr")
    assert decide_gate(replace(CHECK, pr_number=9, pr_from_fork=True), DEFAULT).proceed


def test_the_default_branch_is_fixed_whatever_the_branch_globs() -> None:
    assert decide(CHECK, parse_repo_config("branches: ['release/*']"))[0] is Action.FIX


def test_checks_come_before_budgets_and_the_loop_guard_before_everything_but_the_switch() -> None:
    config = parse_repo_config("limits: {jobs_per_hour: 0}")
    assert decide(CHECK, config, fixable=False)[1] == "not_fixable"
    assert decide(CHECK, config, branch="autofix/x", fixable=False)[1] == "own_branch"
    assert decide(CHECK, parse_repo_config("enabled: false"), branch="autofix/x")[1] == "disabled"


def test_issues_and_commands_skip_the_check_only_rules() -> None:
    issue = GateFacts(kind="issue", fixable=False)
    assert decide_gate(issue, parse_repo_config("checks: [nothing]")).action is Action.FIX
    assert decide_gate(issue, parse_repo_config("triggers: {issues: false}")).reason == "trigger_off"
    assert decide_gate(
        GateFacts(kind="command"), parse_repo_config("triggers: {commands: false}")
    ).reason == ("trigger_off")
