"""The gate: should this failure (or issue) become a fix attempt? A pure function over facts.

`decide_gate(facts, config)` returns a `GateDecision`: go ahead, or a refusal with a stable reason
code (for metrics and the job record) and one sentence a maintainer can act on. The order of the
checks is the order a maintainer would ask them in: is the bot on here at all, is this ours, is it
running in a loop (a circuit breaker is open), is it something a patch can fix, is it still current,
has it been handled, and can we afford it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.budgets import render_installation_cap
from app.repo_config import RepoConfig


class Action(enum.Enum):
    FIX = "fix"  # go ahead
    SKIP = "skip"  # do nothing more (recorded, maybe shown)
    CANCEL = "cancel"  # superseded: drop quietly
    UPDATE_PR = "update_pr"  # an open bot PR already covers this fingerprint: update or comment on it
    SUGGEST = "suggest"  # a fork PR: fix, but deliver as review suggestions only


@dataclass(frozen=True)
class GateFacts:
    kind: str  # "check" | "issue" | "command"
    repo_paused: bool = False
    check_name: str | None = None
    check_app_id: int | None = None
    check_app: str | None = None  # the slug of the App that ran the check (github-actions, …)
    branch: str | None = None  # the failing commit's branch (a PR's head branch)
    is_default_branch: bool = False
    pr_number: int | None = None  # the PR whose check failed, if any
    pr_from_fork: bool = False
    failure_class: str | None = None
    fixable: bool = True
    newer_commit_on_branch: bool = False
    fingerprint: str | None = None
    open_bot_pr_for_fingerprint: int | None = None
    fingerprint_rejected: bool = False
    fingerprint_ignored: bool = False  # `/autofix ignore`
    jobs_last_hour: int = 0
    jobs_today: int = 0
    dollars_today: float = 0.0
    dollars_this_month: float = 0.0
    installation_dollars_today: float = 0.0  # spent or held today by all the installation's jobs
    installation_dollars_per_day: float | None = None  # AUTOFIX_INSTALLATION_DAILY_DOLLARS; None: no cap
    open_bot_prs: int = 0
    bot_app_id: int | None = None
    branch_prefix: str = "autofix/"
    circuit_open: str | None = None  # why a circuit breaker is open (jobs/breakers.py), None when closed


@dataclass(frozen=True)
class GateDecision:
    action: Action
    reason: str  # stable code, e.g. "budget_jobs_per_hour"
    detail: str  # one sentence for the job record, the check run or a comment

    @property
    def proceed(self) -> bool:
        return self.action in (Action.FIX, Action.SUGGEST)


def _no(reason: str, detail: str, action: Action = Action.SKIP) -> GateDecision:
    return GateDecision(action, reason, detail)


def decide_gate(facts: GateFacts, config: RepoConfig) -> GateDecision:
    return (
        _switched_off(facts, config)
        or _loop_guard(facts)
        or _circuit_open(facts)
        or _not_watched(facts, config)
        or _not_fixable(facts)
        or _already_handled(facts)
        or _over_budget(facts, config)
        or _go(facts)
    )


def _switched_off(facts: GateFacts, config: RepoConfig) -> GateDecision | None:
    if not config["enabled"]:
        return _no("disabled", "Autofix is disabled for this repository (`enabled: false`).")
    if facts.repo_paused:
        return _no("paused", "Autofix is paused for this repository; resume it from the dashboard.")
    trigger = {"check": "triggers.checks", "issue": "triggers.issues", "command": "triggers.commands"}[
        facts.kind
    ]
    if not config[trigger]:
        return _no("trigger_off", f"`{trigger}` is false in .github/autofix.yml.")
    return None


def _loop_guard(facts: GateFacts) -> GateDecision | None:
    if facts.branch and facts.branch.startswith(facts.branch_prefix):
        return _no("own_branch", f"`{facts.branch}` is one of Autofix's own branches.")
    if facts.bot_app_id is not None and facts.check_app_id == facts.bot_app_id:
        return _no("own_check", "The failing check is Autofix's own.")
    return None


def _circuit_open(facts: GateFacts) -> GateDecision | None:
    if facts.circuit_open is not None:
        return _no("circuit_open", facts.circuit_open)
    return None


def _not_watched(facts: GateFacts, config: RepoConfig) -> GateDecision | None:
    if facts.kind != "check":
        return None
    if facts.check_name is not None and not config.watches_check(facts.check_name):
        return _no("check_not_watched", f"The check `{facts.check_name}` is not in `checks`.")
    if facts.check_app is not None and not config.watches_app(facts.check_app):
        return _no("check_app_not_watched", f"The check comes from `{facts.check_app}`, not in `check_apps`.")
    if facts.branch is not None and not facts.is_default_branch and not config.watches_branch(facts.branch):
        return _no("branch_not_allowed", f"The branch `{facts.branch}` is not in `branches`.")
    if facts.pr_number is not None and facts.pr_from_fork and config["pull_requests.forks"] == "off":
        return _no("fork_off", "Pull requests from forks are not fixed here (`pull_requests.forks: off`).")
    if facts.pr_number is not None and not facts.pr_from_fork and not config["pull_requests.same_repo"]:
        return _no(
            "pull_requests_off", "Pull requests are not fixed here (`pull_requests.same_repo: false`)."
        )
    return None


def _not_fixable(facts: GateFacts) -> GateDecision | None:
    if facts.kind == "check" and not facts.fixable:
        kind = (facts.failure_class or "unknown").replace("_", " ")
        return _no("not_fixable", f"This looks like a {kind} failure, which a patch to the code cannot fix.")
    return None


def _already_handled(facts: GateFacts) -> GateDecision | None:
    if facts.newer_commit_on_branch:
        return _no("superseded", "A newer commit on the branch supersedes this one.", Action.CANCEL)
    if facts.fingerprint_ignored:
        return _no("ignored", "A maintainer asked to ignore this failure (`/autofix ignore`).")
    if facts.fingerprint_rejected:
        return _no("rejected_before", "A fix for this failure was closed unmerged or reverted before.")
    if facts.open_bot_pr_for_fingerprint is not None:
        return _no(
            "open_pr",
            f"Pull request #{facts.open_bot_pr_for_fingerprint} already proposes a fix for this failure.",
            Action.UPDATE_PR,
        )
    return None


def _over_budget(facts: GateFacts, config: RepoConfig) -> GateDecision | None:
    limits = (
        (
            "budget_jobs_per_hour",
            facts.jobs_last_hour,
            config["limits.jobs_per_hour"],
            "fix attempts this hour",
        ),
        ("budget_jobs_per_day", facts.jobs_today, config["limits.jobs_per_day"], "fix attempts today"),
        (
            "budget_dollars_per_day",
            facts.dollars_today,
            config["limits.dollars_per_day"],
            "dollars spent today",
        ),
        (
            "budget_dollars_per_month",
            facts.dollars_this_month,
            config["limits.dollars_per_month"],
            "dollars spent this month",
        ),
        ("budget_open_prs", facts.open_bot_prs, config["limits.max_open_prs"], "open Autofix pull requests"),
    )
    for reason, used, cap, what in limits:
        if used >= cap:
            shown = f"{used:.2f} of {cap:.2f}" if isinstance(cap, float) else f"{used} of {cap}"
            return _no(reason, f"Budget reached: {shown} {what}.")
    daily = facts.installation_dollars_per_day  # the operator's, across repositories
    if daily is not None and facts.installation_dollars_today >= daily:
        spent = facts.installation_dollars_today
        return _no("budget_installation_dollars_per_day", render_installation_cap(spent, daily))
    return None


def _go(facts: GateFacts) -> GateDecision:
    if facts.kind == "check" and facts.pr_from_fork:
        return GateDecision(
            Action.SUGGEST, "fork_pr", "A fork's pull request: the fix will come as suggestions."
        )
    return GateDecision(Action.FIX, "ok", "Going ahead.")
