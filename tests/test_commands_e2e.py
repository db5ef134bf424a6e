"""`/autofix` commands end to end: a comment on the local GitHub, its webhook routed as the web does,
the command job run against the local GitHub and a real Redis; for the commands that start or stop
fix attempts, the real fix pipeline with the scripted model and the LocalSandbox."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.audit import read_audit
from app.budgets import BudgetLedger
from app.job_records import JobStore
from app.queue import JOB_PREFIX, QUEUE, deserialize
from app.repo_state import RepoState
from app.routing import route
from jobs import names
from jobs.commands.control import thread_budget
from jobs.deps import Deps
from jobs.fix_check import fix_check_run
from jobs.received import run_command
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.state import Repo
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, STATS, Served
from tests.pipeline_support import FILES, real_pytest_log
from tests.support import OWNER, LocalGitHub

REPLY_MARKER = re.compile(r"\n\n<!-- autofix:reply:[\w:-]+ -->$")
ROLES = ("read", "triage", "write", "maintain", "admin", None)  # None: an outside collaborator


def fix_turns() -> list[Any]:
    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    return [reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", DIAGNOSIS))]


class Talk:
    """People comment on the local GitHub; each comment's webhook is routed and its command run."""

    def __init__(self, gh: LocalGitHub, deps: Deps, repo: Repo) -> None:
        self.gh, self.deps, self.repo = gh, deps, repo
        self.sent: list[tuple[str, dict[str, Any]]] = []
        gh.state.deliver = lambda event, payload: self.sent.append((event, payload))
        self.bot = next(iter(gh.state.apps.values())).bot.login

    async def say(
        self, number: int, body: str, user: str = "maya", role: str | None = "write"
    ) -> dict[str, Any]:
        if role is not None:
            self.gh.sim.set_permission(self.repo, user, role)
        self.gh.sim.comment(self.repo, number, body, user=user)
        event, payload = next((e, p) for e, p in reversed(self.sent) if e == "issue_comment")
        routed = route(event, payload, self.deps.settings)
        assert routed.ignored is None, routed.ignored
        [job] = routed.jobs
        ctx = {"deps": self.deps, "redis": self.deps.redis, "job_id": job.job_id}
        return await run_command(ctx, job.args)

    def reactions(self) -> list[str]:
        """The reactions on the last comment that people wrote."""
        last = max(
            (c for c in self.gh.state.comments.values() if c.user.login != self.bot), key=lambda c: c.id
        )
        return [r.content for r in last.reactions]

    def replies(self, number: int) -> list[str]:
        """What the bot said on `number`, oldest first (its sticky status comment left out), as people
        read it: without the hidden marker that ends each reply."""
        return [
            REPLY_MARKER.sub("", c.body)
            for c in sorted(self.gh.state.comments.values(), key=lambda c: c.id)
            if c.issue_number == number
            and c.user.login == self.bot
            and "<!-- autofix:status -->" not in c.body
        ]


def broken_pr(gh: LocalGitHub, tmp_path: Path) -> tuple[Repo, int, dict[str, Any]]:
    """A same-repo PR whose change breaks `mean`, and the failed check's job request."""
    good = FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED)}
    repo = gh.sim.create_repo(OWNER, "demo", files=good)
    sha = gh.sim.commit(repo, "feature", {"calc/stats.py": STATS}, "Rework mean()", "mona")
    pr = gh.sim.open_pr(repo, "feature", title="Rework mean()")
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, FILES))
    request = {
        "repo_id": repo.id, "repo": repo.full_name, "installation_id": gh.installation_id,
        "check_run_id": check.id, "check_name": "tests", "head_sha": sha, "head_branch": "feature",
        "pull_requests": [pr.number],
    }  # fmt: skip
    return repo, pr.number, request


async def proven_fix(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> tuple[Repo, int, int, str]:
    """A broken same-repo PR and the bot PR fixing it (real pipeline): repo, broken, bot PR, job id."""
    repo, broken, request = broken_pr(gh, tmp_path)
    model.state.script(*fix_turns())
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"
    result = await fix_check_run({"deps": deps, "job_id": job_id}, request)
    assert result["outcome"] == "pr_opened", result
    [bot_pr] = [i.number for i in repo.issues.values() if i.pull is not None and i.number != broken]
    return repo, broken, bot_pr, job_id


async def queued(redis: Redis) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for raw in await redis.zrange(QUEUE, 0, -1):
        job_id = raw.decode()
        job = deserialize(await redis.get(JOB_PREFIX + job_id))
        out.append((job_id, job["f"], job["a"][0]))
    return out


# -- the answer: reactions, replies, the audit trail --------------------------------------------


async def test_help_is_answered_with_the_table(gh: LocalGitHub, deps: Deps) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    talk = Talk(gh, deps, repo)

    result = await talk.say(issue.number, "/autofix help")

    assert result["outcome"] == "done"
    assert talk.reactions() == ["eyes", "rocket"]
    [text] = talk.replies(issue.number)
    assert "| `/autofix retry [guidance]` | bot PR or its source | a new attempt within budget |" in text
    [entry] = [e for e in await read_audit(deps.redis) if e["kind"] == "command.done"]
    assert (entry["author"], entry["verb"], entry["permission"]) == ("maya", "help", "write")


async def test_an_unknown_command_gets_the_table_and_a_reason(gh: LocalGitHub, deps: Deps) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    talk = Talk(gh, deps, repo)

    await talk.say(issue.number, "/autofix deploy prod")

    assert talk.reactions() == ["eyes", "confused"]
    [text] = talk.replies(issue.number)
    assert text.startswith("I did not understand that: unknown command `deploy`.")
    assert "<details><summary>Commands</summary>" in text


async def test_someone_without_write_gets_one_short_reply_and_nothing_happens(
    gh: LocalGitHub, deps: Deps
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    talk = Talk(gh, deps, repo)

    first = await talk.say(issue.number, "/autofix", user="drive-by", role="read")
    second = await talk.say(issue.number, "/autofix please", user="drive-by", role="read")

    assert first["outcome"] == second["outcome"] == "refused"
    assert talk.reactions() == ["eyes", "confused"]
    [text] = talk.replies(issue.number)  # one reply, however often they ask
    assert text == (
        "Sorry @\u200bdrive-by, `/autofix` commands here need write permission on the repository"
        " (you have read)."
    )
    assert await queued(deps.redis) == []
    refused = [e for e in await read_audit(deps.redis) if e["kind"] == "command.refused"]
    assert [(e["author"], e["verb"]) for e in refused] == [("drive-by", "fix"), ("drive-by", "help")]


async def test_a_bot_is_never_answered(gh: LocalGitHub, deps: Deps) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    gh.state.user("helper[bot]", "Bot")
    talk = Talk(gh, deps, repo)
    gh.sim.comment(repo, issue.number, "/autofix retry", user="helper[bot]")
    event, payload = talk.sent[-1]
    assert route(event, payload, deps.settings).ignored == "comment was written by a bot"
    # and should one get through (a user-type account named like a bot): nothing, not even 👀
    request = {
        "repo_id": repo.id, "repo": repo.full_name, "installation_id": gh.installation_id, "comment_id": 1,
        "number": issue.number, "author": "helper[bot]", "command": {"verb": "retry"},
    }  # fmt: skip
    result = await run_command({"deps": deps, "redis": deps.redis, "job_id": "cmd:x"}, request)
    assert result == {"outcome": "ignored", "reason": "bot"}
    assert talk.replies(issue.number) == []
    assert talk.reactions() == []


@pytest.mark.parametrize("role", ROLES)
async def test_permission_matrix_on_the_local_github(gh: LocalGitHub, deps: Deps, role: str | None) -> None:
    """Each command by each role: refused exactly when the role is below what the command needs."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    talk = Talk(gh, deps, repo)
    bodies = ["/autofix", "/autofix retry", "/autofix revise shorter", "/autofix apply", "/autofix undo",
              "/autofix explain", "/autofix stop", "/autofix ignore", "/autofix status", "/autofix budget 5",
              "/autofix help"]  # fmt: skip
    refused = []
    for body in bodies:
        result = await talk.say(issue.number, body, user=f"u-{role}", role=role)
        if result["outcome"] == "refused":
            refused.append(body.split()[1] if " " in body else "fix")
    everything = [
        "fix",
        "retry",
        "revise",
        "apply",
        "undo",
        "explain",
        "stop",
        "ignore",
        "status",
        "budget",
        "help",
    ]
    expected = {"read": everything, "triage": everything, None: everything, "write": ["budget"]}
    assert refused == expected.get(role, [])
    assert len([t for t in talk.replies(issue.number) if t.startswith("Sorry")]) == (1 if refused else 0)


# -- commands on a thread with a fix --------------------------------------------------------------


async def test_status_explain_ignore_budget_on_a_bot_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, _, bot_pr, job_id = await proven_fix(gh, deps, model, tmp_path)
    talk = Talk(gh, deps, repo)

    await talk.say(bot_pr, "/autofix status")
    status = talk.replies(bot_pr)[-1]
    assert status.startswith("Last job: **pr opened**.")
    assert "$2.00 per attempt here" in status
    assert "| publish | ✅ |" in status

    await talk.say(bot_pr, "/autofix explain")
    explain = talk.replies(bot_pr)[-1]
    assert explain.startswith(f"Diagnosis of job `{job_id}`: **pr opened**.")
    assert "- failing: `tests/test_stats.py::test_mean`" in explain
    assert f"Likely cause: {DIAGNOSIS['root_cause']}" in explain
    assert "<details><summary>Candidates and why they won or lost</summary>" in explain
    assert "): proven." in explain

    assert (await talk.say(bot_pr, "/autofix budget 5"))["outcome"] == "refused"  # write is not enough
    assert await thread_budget(deps.redis, repo.id, bot_pr) is None
    assert (await talk.say(bot_pr, "/autofix budget 5", user="lead", role="maintain"))["outcome"] == "done"
    assert await thread_budget(deps.redis, repo.id, bot_pr) == 5.0
    await talk.say(bot_pr, "/autofix status")
    assert (
        "$5.00 per attempt here, but the operator's limit of $3.00 per job still applies."
        in (talk.replies(bot_pr)[-1])
    )

    result = await talk.say(bot_pr, "/autofix ignore")
    record = await JobStore(deps.redis).get(job_id)
    assert record is not None
    fingerprint = record.checkpoints["report"]["fingerprint"]
    assert result["fingerprint"] == fingerprint
    assert await RepoState(deps.redis, repo.id).is_ignored(fingerprint)
    assert talk.replies(bot_pr)[-1] == f"I will not act on this failure again (fingerprint `{fingerprint}`)."


async def test_stop_during_a_running_job_then_retry_with_guidance(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    """The job ends at its next phase boundary and opens nothing; `retry` starts over with the
    maintainer's words in front of the model, and the new attempt opens the PR."""
    repo, broken, request = broken_pr(gh, tmp_path)
    model.state.script(*fix_turns())
    talk = Talk(gh, deps, repo)
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"
    store = JobStore(deps.redis)
    running = asyncio.create_task(fix_check_run({"deps": deps, "job_id": job_id}, request))
    while not ((r := await store.get(job_id)) and r.phase_named("reproduce")):  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # the job is in its sandbox run

    stopped = await talk.say(broken, "/autofix stop")
    result = await running

    assert stopped["flagged"] == [job_id]
    assert result["outcome"] == "stopped"
    assert [i for i in repo.issues.values() if i.pull is not None and i.number != broken] == []
    assert talk.replies(broken) == ["Stopped. Nothing more happens here until `/autofix retry`."]
    # a new job for the stopped thread ends at its first phase
    again = await fix_check_run({"deps": deps, "job_id": job_id + ":again"}, request)
    assert again["outcome"] == "stopped"

    retry = await talk.say(broken, "/autofix retry\nThe divisor is wrong, not the test.")
    [(new_id, function, args)] = await queued(deps.redis)
    assert (new_id, function) == (retry["job_id"], names.FIX_CHECK_RUN)
    assert new_id == f"{job_id}:again:retry:{args['command_id']}"  # the thread's latest job, again
    assert args["guidance"] == "The divisor is wrong, not the test."
    assert args["requested_by"] == "maya"
    await talk.say(broken, "/autofix status")
    assert talk.replies(broken)[-1].startswith("A new attempt is queued: **position 1**.")
    model.state.script(*fix_turns())
    done = await fix_check_run({"deps": deps, "job_id": new_id}, args)
    assert done["outcome"] == "pr_opened", done
    assert "The divisor is wrong, not the test." in json.dumps(model.state.bodies[-1])
    assert (await BudgetLedger(deps.redis, repo.id).usage()).jobs_last_hour >= 1


async def test_autofix_on_an_issue_queues_the_issue_fix_with_the_instructions(
    gh: LocalGitHub, deps: Deps
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    issue = gh.sim.open_issue(repo, "mean() is wrong")
    talk = Talk(gh, deps, repo)

    result = await talk.say(issue.number, "/autofix\nLook at calc/stats.py first.")

    [(job_id, function, args)] = await queued(deps.redis)
    assert (job_id, function) == (result["job_id"], names.FIX_ISSUE)
    assert args["issue_number"] == issue.number
    assert args["guidance"] == "Look at calc/stats.py first."
    assert talk.reactions() == ["eyes", "rocket"]
    assert talk.replies(issue.number) == [f"On it (job `{job_id}`)."]
