"""A command's reply is posted once, whatever kills its worker (checklist E1, issue 9).

The job checkpoints the reply in its record; a worker killed between GitHub's 201 and that checkpoint
leaves a posted reply with no record of it. The retry finds the reply by the hidden marker that ends
it (the bot's own comments only) and adopts it. Local GitHub and a real Redis; the kill is a
checkpoint write that fails once.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from app.github.client import Installation
from app.github.conversation import fetch_recent_comments
from app.job_records import JobRecord, JobStore
from app.routing import route
from jobs import names
from jobs.commands.control import first_refusal
from jobs.commands.replies import render_reply_marker
from jobs.deps import Deps
from jobs.received import run_command
from tests.fakes.github.state import Repo
from tests.pipeline_support import FILES
from tests.support import OWNER, LocalGitHub

Request = dict[str, Any]


class Killed(BaseException):
    """The worker dies here (a BaseException, as arq's cancellation is: nothing catches it)."""


@pytest.fixture
def killed_at_the_reply_checkpoint(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first save of a record holding the reply checkpoint dies: the comment is posted, its
    checkpoint never written. The list of deaths (the comment ids posted just before)."""
    real, deaths = JobStore.save, list[int]()

    async def save(self: JobStore, record: JobRecord) -> None:
        if "reply" in record.checkpoints and not deaths:
            deaths.append(record.checkpoints["reply"])
            raise Killed
        await real(self, record)

    monkeypatch.setattr(JobStore, "save", save)
    return deaths


def command(
    gh: LocalGitHub, deps: Deps, repo: Repo, number: int, body: str, user: str, role: str
) -> tuple[str, Request]:
    """`user` (with `role`) comments `body`; the job its webhook routes to (id, request)."""
    sent: list[tuple[str, Request]] = []
    gh.state.deliver = lambda event, payload: sent.append((event, payload))
    gh.sim.set_permission(repo, user, role)
    gh.sim.comment(repo, number, body, user=user)
    [(event, payload)] = [(e, p) for e, p in sent if e == "issue_comment"]
    [job] = route(event, payload, deps.settings).jobs
    return job.job_id, job.args


async def run(deps: Deps, job_id: str, request: Request) -> Request:
    return await run_command({"deps": deps, "redis": deps.redis, "job_id": job_id}, request)


def bot_comments(gh: LocalGitHub, number: int) -> list[str]:
    bot = next(iter(gh.state.apps.values())).bot.login
    return [c.body for c in gh.state.comments.values() if c.issue_number == number and c.user.login == bot]


def listed(gh: LocalGitHub, number: int) -> int:
    return len(gh.state.seen("GET", f"/issues/{number}/comments"))


def thread(gh: LocalGitHub) -> tuple[Repo, int]:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    return repo, gh.sim.open_issue(repo, "mean() is wrong").number


async def test_a_first_try_posts_its_reply_without_listing_the_thread(gh: LocalGitHub, deps: Deps) -> None:
    repo, number = thread(gh)
    job_id, request = command(gh, deps, repo, number, "/autofix help", "maya", "write")

    assert (await run(deps, job_id, request))["outcome"] == "done"

    [reply] = bot_comments(gh, number)
    assert reply.endswith(f"\n\n<!-- autofix:reply:comment-{request['comment_id']} -->")
    assert listed(gh, number) == 0  # nothing an earlier try could have posted: nothing looked for


async def test_a_worker_killed_between_the_reply_and_its_checkpoint_replies_once(
    gh: LocalGitHub, deps: Deps, killed_at_the_reply_checkpoint: list[int]
) -> None:
    repo, number = thread(gh)
    job_id, request = command(gh, deps, repo, number, "/autofix help", "maya", "write")
    with pytest.raises(Killed):
        await run(deps, job_id, request)
    [posted] = killed_at_the_reply_checkpoint
    assert len(bot_comments(gh, number)) == 1
    assert listed(gh, number) == 0

    again = await run(deps, job_id, request)  # arq's next try of the same job

    assert again["outcome"] == "done"
    assert len(bot_comments(gh, number)) == 1  # the posted reply adopted, not posted again
    assert listed(gh, number) == 1
    record = await JobStore(deps.redis).get(job_id)
    assert record is not None
    assert record.tries == 2
    assert record.checkpoints["reply"] == posted
    assert (await run(deps, job_id, request))["outcome"] == "done"  # a third try finds the checkpoint
    assert len(bot_comments(gh, number)) == 1
    assert listed(gh, number) == 1


async def test_a_marker_copied_into_someone_elses_comment_does_not_suppress_the_reply(
    gh: LocalGitHub, deps: Deps
) -> None:
    """A first try died before posting; meanwhile someone pastes the reply's marker, and the bot has a
    comment quoting it in a code block. Neither is the reply: the retry posts it."""
    repo, number = thread(gh)
    job_id, request = command(gh, deps, repo, number, "/autofix help", "maya", "write")
    await JobStore(deps.redis).start(job_id, names.RUN_COMMAND, repo.full_name, request)  # the first try
    marker = f"<!-- autofix:reply:comment-{request['comment_id']} -->"
    gh.sim.comment(repo, number, f"done already\n\n{marker}", user="mallory")
    bot = next(iter(gh.state.apps.values())).bot
    gh.state.users[bot.login] = bot  # the App's own account (type Bot), as its API comments have
    gh.sim.comment(repo, number, f"```\n{marker}\n```", user=bot.login)

    assert (await run(deps, job_id, request))["outcome"] == "done"

    assert listed(gh, number) == 1  # the retry looked, and adopted neither
    replies = [b for b in bot_comments(gh, number) if b.endswith(marker)]
    assert len(replies) == 1
    assert replies[0].startswith("Autofix commands:")


async def test_a_refusal_is_posted_once_across_a_kill_before_or_after_it(
    gh: LocalGitHub, deps: Deps, killed_at_the_reply_checkpoint: list[int]
) -> None:
    repo, number = thread(gh)
    # killed after claiming the hour's one refusal, before posting it: the retry still answers
    job_id, request = command(gh, deps, repo, number, "/autofix", "drive-by", "read")
    assert await first_refusal(deps.redis, repo.id, number, "drive-by", job_id=job_id)
    # then killed after posting it, before its checkpoint: the next retry adopts it
    with pytest.raises(Killed):
        await run(deps, job_id, request)
    assert (await run(deps, job_id, request))["outcome"] == "refused"
    [refusal] = bot_comments(gh, number)
    assert refusal.startswith("Sorry @\u200bdrive-by, `/autofix` commands here need write permission")

    other_id, other = command(gh, deps, repo, number, "/autofix please", "drive-by", "read")
    assert (await run(deps, other_id, other))["outcome"] == "refused"
    assert len(bot_comments(gh, number)) == 1  # still one refusal an hour for a new command


async def fetch_ids(inst: Installation, repo: Repo, number: int, max_pages: int) -> list[int]:
    async with aclosing(fetch_recent_comments(inst, OWNER, repo.name, number, max_pages=max_pages)) as it:
        return [int(item["id"]) async for item in it]


async def test_recent_comments_come_newest_first_from_the_last_pages(gh: LocalGitHub, deps: Deps) -> None:
    repo, number = thread(gh)
    ids = [gh.sim.comment(repo, number, f"comment {i}").id for i in range(230)]  # pages of 100, 100, 30
    inst = deps.github.installation(gh.installation_id)

    assert await fetch_ids(inst, repo, number, 3) == ids[::-1]
    assert await fetch_ids(inst, repo, number, 2) == ids[:-131:-1]  # the newest 130: pages 3 and 2
    assert await fetch_ids(inst, repo, number, 1) == ids[:-31:-1]
    assert await fetch_ids(inst, repo, gh.sim.open_issue(repo, "quiet").number, 3) == []


@pytest.mark.parametrize(
    ("request_", "marker"),
    [
        ({"comment_id": 42, "review_id": None}, "reply:comment-42"),
        ({"comment_id": None, "review_id": 7}, "reply:review-7"),
        ({"comment_id": True}, "reply:job-cmd:1:x__y"),  # not an id: the job's, without a `--`
    ],
)
def test_the_reply_marker_names_the_command(request_: Request, marker: str) -> None:
    assert render_reply_marker(request_, "cmd:1:x--y") == marker
