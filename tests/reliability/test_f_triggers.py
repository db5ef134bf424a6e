"""Checklist F, authorization and triggers: what tests/test_routing.py, tests/test_commands*.py and
the fix-check scenarios leave open. The commenter's permission comes from the local GitHub's
collaborator API; the payload's `author_association` is set to what GitHub would show (or lie)."""

from __future__ import annotations

from typing import Any

import pytest

from app.queue import QUEUE
from app.routing import route
from jobs.deps import Deps
from jobs.received import run_command
from tests.pipeline_support import FILES
from tests.support import OWNER, LocalGitHub, fixture_json, make_settings


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
