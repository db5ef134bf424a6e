"""Checklist F, authorization and triggers: what tests/test_routing.py, tests/test_commands*.py and
the fix-check scenarios leave open. The commenter's permission comes from the local GitHub's
collaborator API; the payload's `author_association` is set to what GitHub would show (or lie)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.audit import read_audit
from app.budgets import BudgetLedger
from app.github.errors import Forbidden
from app.queue import QUEUE
from app.repo_config import parse_repo_config
from app.routing import route
from jobs import names
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.fix_issue import fix_issue
from jobs.gate import GateFacts, decide_gate
from jobs.issue_attempt import OUTSIDER_NOTE
from jobs.received import run_command
from jobs.trigger import check_trigger_of
from tests.fakes.github import faults, gitstore
from tests.patch_support import Served
from tests.pipeline_support import FILES, broken_pr
from tests.support import OWNER, LocalGitHub, app_fixture, fixture_json, make_settings
from tests.test_commands_e2e import Talk, queued
from tests.test_fix_issue_e2e import ISSUE, repro_and_fix_turns, request_for, stats_repo


async def _command_as(gh: LocalGitHub, deps: Deps, body: str, role: str, association: str) -> dict[str, Any]:
    """`body` commented by a user whose repository role is `role`, with the delivery's
    `author_association` set to `association`; the command job's result."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    sent: list[tuple[str, dict[str, Any]]] = []
    gh.state.deliver = lambda event, payload: sent.append((event, payload))
    gh.sim.set_permission(repo, "ines", role)
    gh.sim.comment(repo, issue.number, body, user="ines")
    event, payload = next((e, p) for e, p in reversed(sent) if e == "issue_comment")
    payload["comment"]["author_association"] = association
    [job] = route(event, payload, deps.settings).jobs
    return await run_command({"deps": deps, "redis": deps.redis, "job_id": job.job_id}, job.args)


async def test_F2_a_private_org_member_shown_as_contributor_is_allowed(gh: LocalGitHub, deps: Deps) -> None:
    """F2: command from an org member with private membership (`author_association: CONTRIBUTOR`,
    the API says write) -> allowed."""
    result = await _command_as(gh, deps, "/autofix status", role="write", association="CONTRIBUTOR")
    assert result["outcome"] != "refused", result


async def test_F1_the_association_in_the_payload_grants_nothing(gh: LocalGitHub, deps: Deps) -> None:
    """F1: `/autofix retry` from a read-only user -> no job; the decision comes from the permission
    API, not `author_association` (here the payload claims OWNER)."""
    result = await _command_as(gh, deps, "/autofix retry", role="read", association="OWNER")
    assert result["outcome"] == "refused", result
    assert await deps.redis.zcard(QUEUE) == 0


@pytest.mark.parametrize("event", ["opened", "edited"])
def test_F5_a_command_in_an_issue_title_or_body_is_not_a_command(event: str) -> None:
    """F5: a command in the issue title (or an edited issue) -> no job: only `issue_comment.created`
    with the command at line start triggers."""
    payload = fixture_json("issues.opened.1.json")
    payload["action"] = event
    payload["issue"]["title"] = "/autofix retry"
    payload["issue"]["body"] = "/autofix retry\n"
    routed = route("issues", payload, make_settings())
    assert routed.jobs == []


@pytest.mark.parametrize("conclusion", ["cancelled", "neutral", "skipped", "stale"])
def test_F7_a_check_that_did_not_fail_is_ignored(conclusion: str) -> None:
    """F7: conclusion `cancelled`/`neutral`/`skipped`/`stale` -> ignored per policy (no job)."""
    payload = fixture_json("check_run.completed.1.json")
    payload["check_run"]["conclusion"] = conclusion
    routed = route("check_run", payload, make_settings())
    assert routed.jobs == []
    assert "not a failure" in (routed.ignored or "")


def test_F7_a_check_from_an_app_not_in_check_apps_is_skipped() -> None:
    """F7: a failed check run from an App the repository does not list in `check_apps` -> skipped at
    the gate with the App's slug named; the same check from a listed App goes ahead."""
    [job] = route("check_run", app_fixture("check_run.completed.1.json"), make_settings()).jobs
    assert job.args["check_app"] == "github-actions"  # the recorded delivery's App
    facts = GateFacts(kind="check", check_name=job.args["check_name"], check_app=job.args["check_app"])
    only_circle = decide_gate(facts, parse_repo_config("check_apps: ['circleci-*']"))
    assert (only_circle.proceed, only_circle.reason) == (False, "check_app_not_watched")
    assert "`github-actions`, not in `check_apps`" in only_circle.detail
    assert decide_gate(facts, parse_repo_config("check_apps: ['github-*']")).proceed
    assert decide_gate(facts, parse_repo_config("")).proceed  # every App by default


def _labelled_by(gh: LocalGitHub, repo: Any, number: int, login: str) -> dict[str, Any]:
    """`login` labels `number`: the job request that the `issues.labeled` delivery routes to."""
    sent: list[tuple[str, dict[str, Any]]] = []
    gh.state.deliver = lambda event, payload: sent.append((event, payload))
    gh.sim.label_issue(repo, number, "autofix", user=login)
    event, payload = next((e, p) for e, p in reversed(sent) if e == "issues")
    [job] = route(event, payload, make_settings()).jobs
    assert job.function == names.FIX_ISSUE
    return job.args


def _branches(repo: Any) -> list[str]:
    return sorted(gitstore.list_refs(repo.path, "refs/heads/"))


@pytest.mark.parametrize("now", ["read", None])  # None: no longer a collaborator at all
async def test_F9_a_labeller_who_lost_access_before_the_job_ran_gets_nothing_done(
    gh: LocalGitHub, deps: Deps, model: Served[Any], now: str | None
) -> None:
    """F9: permission revoked between enqueue and run -> re-checked at job start; the job stops with
    the reason on the issue (one status comment), no model call, no branch, no attempt counted."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong", ISSUE)
    gh.sim.set_permission(repo, "lea", "write")  # at ingress
    request = _labelled_by(gh, repo, issue.number, "lea")
    del repo.collaborators["lea"]
    if now is not None:
        gh.sim.set_permission(repo, "lea", now)
    branches = _branches(repo)

    result = await fix_issue({"deps": deps, "job_id": "issue:revoked"}, request)

    have = now or "none"
    assert result["outcome"] == "skipped", result
    assert f"needs triage permission on the repository, and has {have} now" in result["reason"]
    assert model.state.bodies == []
    assert _branches(repo) == branches
    [status] = [c for c in gh.state.comments.values() if c.issue_number == issue.number]
    assert result["reason"] in status.body
    [entry] = [e for e in await read_audit(deps.redis) if e["kind"] == "trigger.refused"]
    assert (entry["author"], entry["trigger"], entry["permission"]) == ("lea", "label", have)
    assert (await BudgetLedger(deps.redis, repo.id).usage()).jobs_last_hour == 0


async def test_F9_a_fix_that_a_command_queued_asks_for_the_commenter_again(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    """F9 for a job a command queued: `/autofix` by a writer is allowed when the command runs; when
    the fix job runs, the commenter has only read -> the job stops; nothing reaches the model."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong", ISSUE)
    answered = await Talk(gh, deps, repo).say(issue.number, "/autofix", user="maya", role="write")
    [(job_id, function, args)] = await queued(deps.redis)
    assert (job_id, function) == (answered["job_id"], names.FIX_ISSUE)
    gh.sim.set_permission(repo, "maya", "read")

    result = await fix_issue({"deps": deps, "job_id": job_id}, args)

    assert result["outcome"] == "skipped", result
    assert (
        "with `/autofix`, which needs write permission on the repository, and has read now"
        in result["reason"]
    )
    assert model.state.bodies == []


async def test_F9_a_check_fix_a_command_queued_asks_for_the_commenter_again(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    """F9 for a check job: `/autofix retry` on the bot PR queues the check's fix again for its
    commenter; by the time it runs, they have only read -> the job stops before the gate counts an
    attempt; nothing reaches the model. A job the failed check started has no one to ask."""
    repo, _, _, request = broken_pr(gh, tmp_path)
    gh.sim.set_permission(repo, "maya", "read")
    retry = request | {"requested_by": "maya", "retry_of": "check:earlier"}

    result = await fix_check_run({"deps": deps, "job_id": "check:retry"}, retry)

    assert result["outcome"] == "skipped", result
    assert (
        "with `/autofix retry`, which needs write permission on the repository, and has read now"
        in (result["reason"])
    )
    assert model.state.bodies == []
    assert (await BudgetLedger(deps.redis, repo.id).usage()).jobs_last_hour == 0
    [entry] = [e for e in await read_audit(deps.redis) if e["kind"] == "trigger.refused"]
    assert (entry["author"], entry["trigger"], entry["permission"]) == ("maya", "retry", "read")
    assert check_trigger_of(request) is None  # the failed check itself


async def test_F9_a_permission_lookup_github_forbids_is_not_taken_for_none(
    gh: LocalGitHub, deps: Deps
) -> None:
    """A 403 on the permission lookup (the App's own access) is raised for the outcome table
    (jobs/github_outcomes.py), not read as "the labeller has no access"."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong", ISSUE)
    gh.sim.label_issue(repo, issue.number, "autofix")
    request = request_for(gh, repo, issue.number)
    gh.state.faults.add(
        "GET",
        r"/collaborators/[^/]+/permission$",
        faults.status(403, "Resource not accessible by integration"),
    )

    with pytest.raises(Forbidden):
        await fix_issue({"deps": deps, "job_id": "issue:forbidden"}, request)
    assert [path for _, path, _ in gh.state.faults.fired] == [
        f"/repos/{repo.full_name}/collaborators/mona/permission"
    ]


@pytest.mark.timeout(120)  # the issue pipeline, reproduction and fix
async def test_F3_a_triager_labels_an_outsiders_issue_and_gets_a_draft_that_says_why(
    gh: LocalGitHub, deps: Deps, model: Served[Any]
) -> None:
    """F3: `autofix` applied by a triager on an issue written by an outsider -> the job runs (the same
    fenced prompt as any issue), and the PR is a draft whose body says why, although
    `pull_request.draft` is false here."""
    repo = stats_repo(gh)
    issue = gh.sim.open_issue(repo, "mean() divides by the wrong count", ISSUE, user="stranger")
    gh.sim.set_permission(repo, "tia", "triage")
    request = _labelled_by(gh, repo, issue.number, "tia")
    model.state.script(*repro_and_fix_turns())

    result = await fix_issue({"deps": deps, "job_id": "issue:outsider"}, request)

    assert result["outcome"] == "pr_opened", result
    [pr] = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert pr.pull.draft
    assert "autofix:needs-human" in pr.labels  # what stays where GitHub refuses a draft
    assert (pr.body or "").startswith(OUTSIDER_NOTE + f"Fixes #{issue.number}")
