"""A review requesting changes on a bot PR becomes `/autofix revise`: routing (pure, over a real
payload), the feedback text, and end to end after the real pipeline opened the bot PR."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from app.routing import route
from jobs import names
from jobs.commands.review import render_review_feedback
from jobs.deps import Deps
from jobs.received import run_command
from tests.fakes.github.state import Repo
from tests.patch_support import Served
from tests.pipeline_support import FILES
from tests.support import OWNER, LocalGitHub, fixture_json, make_settings
from tests.test_commands_e2e import proven_fix, queued

SETTINGS = make_settings()


def review_payload(
    state: str = "changes_requested", head: str = "autofix/v1-abc", body: str = "Too clever."
) -> Any:
    payload = copy.deepcopy(fixture_json("pull_request_review.submitted.1.json"))
    payload["review"]["state"] = state
    payload["review"]["body"] = body
    payload["pull_request"]["head"]["ref"] = head
    return payload


def test_changes_requested_on_a_bot_pr_is_a_revise() -> None:
    payload = review_payload()
    [job] = route("pull_request_review", payload, SETTINGS).jobs
    assert job.function == names.RUN_COMMAND
    assert job.job_id == f"review:{payload['repository']['id']}:{payload['review']['id']}"
    assert job.args["command"]["verb"] == "revise"
    assert job.args["command"]["text"] == "Too clever."
    assert job.args["author"] == payload["review"]["user"]["login"]
    assert job.args["review_id"] == payload["review"]["id"]
    assert job.args["comment_id"] is None
    assert job.args["number"] == payload["pull_request"]["number"]


def test_other_reviews_are_ignored() -> None:
    assert route("pull_request_review", review_payload("commented"), SETTINGS).ignored == (
        "review is 'commented', not changes_requested"
    )
    assert route("pull_request_review", review_payload("approved"), SETTINGS).jobs == []
    assert route("pull_request_review", review_payload(head="feature"), SETTINGS).ignored == (
        "review is on a pull request that autofix did not open"
    )
    bot = review_payload()
    bot["sender"]["type"] = "Bot"
    assert route("pull_request_review", bot, SETTINGS).ignored == "review was written by a bot"
    real = fixture_json("pull_request_review.submitted.2.json")  # a real "commented" review
    assert route("pull_request_review", real, SETTINGS).jobs == []


def test_the_feedback_names_each_comments_file_and_line() -> None:
    comments: list[dict[str, Any]] = [
        {"path": "calc/stats.py", "line": 2, "body": "Use len() once."},
        {"path": "calc/stats.py", "line": None, "original_line": 7, "body": "Outdated, still true."},
        {"path": "README.md", "body": "Mention it here."},
        {"path": "x.py", "line": 1, "body": "   "},
    ]
    assert render_review_feedback("Please simplify.", comments) == (
        "Please simplify.\n- calc/stats.py:2: Use len() once.\n- calc/stats.py:7: Outdated, still true.\n"
        "- README.md: Mention it here."
    )
    assert render_review_feedback("", []) == ""


def for_repo(payload: Any, repo: Repo, gh: LocalGitHub, number: int, reviewer: str) -> Any:
    payload["repository"] |= {"id": repo.id, "full_name": repo.full_name}
    payload["installation"] = {"id": gh.installation_id}
    payload["pull_request"]["number"] = number
    payload["review"]["user"]["login"] = reviewer
    return payload


async def test_a_review_on_the_bot_pr_queues_a_revise_with_its_words(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, _, bot_pr, job_id = await proven_fix(gh, deps, model, tmp_path)
    gh.sim.set_permission(repo, "rev", "write")
    gh.sim.set_permission(repo, "reader", "read")
    head = repo.issues[bot_pr].pull.head_ref  # type: ignore[union-attr]
    outsider = for_repo(review_payload(head=head), repo, gh, bot_pr, "reader")
    [refused] = route("pull_request_review", outsider, deps.settings).jobs
    ctx = {"deps": deps, "redis": deps.redis, "job_id": refused.job_id}
    assert (await run_command(ctx, refused.args))["outcome"] == "refused"
    assert await queued(deps.redis) == []
    payload = for_repo(review_payload(head=head, body="Keep mean() readable."), repo, gh, bot_pr, "rev")
    [job] = route("pull_request_review", payload, deps.settings).jobs

    result = await run_command({"deps": deps, "redis": deps.redis, "job_id": job.job_id}, job.args)

    assert result["outcome"] == "done", result
    [(_, function, args)] = await queued(deps.redis)
    assert (function, args["update_pr"], args["retry_of"]) == (names.FIX_CHECK_RUN, bot_pr, job_id)
    assert args["guidance"].endswith("Keep mean() readable.")
    assert args["requested_by"] == "rev"


async def test_reviews_can_be_turned_off(gh: LocalGitHub, deps: Deps) -> None:
    files = FILES | {".github/autofix.yml": FILES[".github/autofix.yml"] + "triggers: {reviews: false}\n"}
    repo = gh.sim.create_repo(OWNER, "demo", files=files)
    gh.sim.commit(repo, "autofix/v1-abc", {"NOTES.md": "x\n"}, "A change", "mona")
    pr = gh.sim.open_pr(repo, "autofix/v1-abc")
    gh.sim.set_permission(repo, "rev", "write")
    payload = for_repo(review_payload(), repo, gh, pr.number, "rev")
    [job] = route("pull_request_review", payload, deps.settings).jobs
    ctx = {"deps": deps, "redis": deps.redis, "job_id": job.job_id}

    assert await run_command(ctx, job.args) == {"outcome": "ignored", "reason": "triggers.reviews is false"}
    assert await queued(deps.redis) == []
