"""Pull requests on the local GitHub: GitHub's shapes and refusals, real merges, pull_request webhooks."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import WebhookPullRequestClosed, WebhookPullRequestOpened

from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

FILES = {"calc.py": "def add(a, b):\n    return a - b\n", "README.md": "# demo\n"}
FIXED = {"calc.py": "def add(a, b):\n    return a + b\n"}


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    repo = gh.sim.create_repo(OWNER, "demo", FILES)
    gh.sim.open_issue(repo, "add() subtracts")  # PRs share the issues' numbers
    gh.sim.commit(repo, "autofix/1", FIXED, "fix: add", "mona")
    return repo


def branch_sha(repo: Repo, branch: str) -> str:
    sha = gitstore.rev_parse(repo.path, f"refs/heads/{branch}")
    assert sha is not None
    return sha


async def test_create_get_list_and_update(gh: LocalGitHub, repo: Repo) -> None:
    client = gh.client()
    created = await client.rest.pulls.async_create(
        OWNER, "demo", title="Fix add", head="autofix/1", base="main", body="Proven fix.", draft=True
    )
    pr = created.parsed_data
    got = (await client.rest.pulls.async_get(OWNER, "demo", pr.number)).parsed_data
    listed = await client.rest.pulls.async_list(OWNER, "demo", head=f"{OWNER}:autofix/1", state="open")
    patched = await client.rest.pulls.async_update(OWNER, "demo", pr.number, title="Fix add()", base="main")
    as_issue = (await client.rest.issues.async_get(OWNER, "demo", pr.number)).parsed_data

    assert created.status_code == 201
    assert created.headers["location"].endswith(f"/pulls/{pr.number}")
    assert pr.number == 2
    assert (pr.head.ref, pr.head.sha, pr.base.ref) == ("autofix/1", branch_sha(repo, "autofix/1"), "main")
    assert pr.head.label == f"{OWNER}:autofix/1"
    assert (pr.draft, pr.merged, pr.commits, pr.changed_files) == (True, False, 1, 1)
    assert (got.mergeable, got.mergeable_state) == (True, "draft")
    assert [p.number for p in listed.parsed_data] == [2]  # type: ignore[attr-defined]
    assert patched.parsed_data.title == "Fix add()"
    assert as_issue.pull_request is not None


async def test_list_filters_and_paginates_with_link(gh: LocalGitHub, repo: Repo) -> None:
    for n in range(3):
        gh.sim.commit(repo, f"b{n}", {f"f{n}.txt": "x\n"}, "add", "mona")
        gh.sim.open_pr(repo, f"b{n}")
    gh.sim.close_pr(repo, 3)
    client = gh.client()

    first = await client.rest.pulls.async_list(OWNER, "demo", state="all", per_page=2)
    every: list[int] = [  # type: ignore[var-annotated]
        p.number
        async for p in client.rest.paginate(
            client.rest.pulls.async_list, owner=OWNER, repo="demo", state="all", per_page=2
        )
    ]
    open_ = [p.number for p in (await client.rest.pulls.async_list(OWNER, "demo")).parsed_data]  # type: ignore[attr-defined]
    by_base = (await client.rest.pulls.async_list(OWNER, "demo", base="other")).parsed_data

    assert 'rel="next"' in first.headers["link"]
    assert every == [4, 3, 2]
    assert open_ == [4, 2]
    assert by_base == []


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ("autofix/1", "A pull request already exists for octo-org:autofix/1."),
        (f"{OWNER}:autofix/1", "A pull request already exists for octo-org:autofix/1."),
        ("same", "No commits between main and same"),
        ("missing", None),
    ],
)
async def test_create_refusals_carry_githubs_422_body(
    gh: LocalGitHub, repo: Repo, head: str, message: str | None
) -> None:
    gh.sim.open_pr(repo, "autofix/1")
    gitstore.update_ref(repo.path, "refs/heads/same", branch_sha(repo, "main"))  # nothing ahead
    client = gh.client()
    with pytest.raises(RequestFailed) as err:
        await client.rest.pulls.async_create(OWNER, "demo", title="t", head=head, base="main")

    body = err.value.response.json()
    assert err.value.response.status_code == 422
    assert body["message"] == "Validation Failed"
    assert body["documentation_url"].startswith("https://docs.github.com/")
    expected = {"resource": "PullRequest", "code": "custom", "message": message}
    assert body["errors"] == [
        expected if message else {"resource": "PullRequest", "field": "head", "code": "invalid"}
    ]


async def test_merge_writes_a_merge_commit_into_the_bare_repo(gh: LocalGitHub, repo: Repo) -> None:
    gh.sim.commit(repo, "main", {"README.md": "# demo, moved on\n"}, "docs", "lisa")
    pr = gh.sim.open_pr(repo, "autofix/1", "Fix add")
    base_before, head = branch_sha(repo, "main"), branch_sha(repo, "autofix/1")
    client = gh.client()

    answer = await client.rest.pulls.async_merge(OWNER, "demo", pr.number, sha=head)
    got = await client.rest.pulls.async_get(OWNER, "demo", pr.number)
    merged = got.parsed_data
    info = gitstore.read_commit(repo.path, branch_sha(repo, "main"))

    assert answer.status_code == 200
    assert answer.parsed_data.merged is True
    # merge_commit_sha: in API version 2022-11-28 (what the edge asks for), gone from githubkit's model
    assert answer.parsed_data.sha == branch_sha(repo, "main") == got.raw_response.json()["merge_commit_sha"]
    assert info.parents == [base_before, head]
    assert info.message.startswith(f"Merge pull request #{pr.number} from {OWNER}/autofix/1")
    assert gitstore.git(repo.path, "show", "main:calc.py") == FIXED["calc.py"]
    assert (merged.state, merged.merged, merged.mergeable) == ("closed", True, None)
    assert merged.merged_by is not None
    assert merged.merged_by.login == "autofix-test[bot]"
    assert (await client.rest.pulls.async_check_if_merged(OWNER, "demo", pr.number)).status_code == 204


async def test_squash_and_rebase_merges(gh: LocalGitHub, repo: Repo) -> None:
    squashed = gh.sim.merge_pr(repo, gh.sim.open_pr(repo, "autofix/1", "Fix add").number, method="squash")
    gh.sim.commit(repo, "ff", {"new.txt": "n\n"}, "add new", "mona")
    rebased = gh.sim.merge_pr(repo, gh.sim.open_pr(repo, "ff").number, method="rebase")

    assert gitstore.read_commit(repo.path, squashed).message.startswith("Fix add (#2)")
    assert len(gitstore.read_commit(repo.path, squashed).parents) == 1
    assert rebased == branch_sha(repo, "ff") == branch_sha(repo, "main")


async def test_conflict_is_405_and_a_moved_head_is_409(gh: LocalGitHub, repo: Repo) -> None:
    pr = gh.sim.open_pr(repo, "autofix/1")
    client = gh.client()
    with pytest.raises(RequestFailed) as moved:
        await client.rest.pulls.async_merge(OWNER, "demo", pr.number, sha="0" * 40)
    gh.sim.commit(repo, "main", {"calc.py": "def add(a, b):\n    return b - a\n"}, "other", "lisa")
    dirty = (await client.rest.pulls.async_get(OWNER, "demo", pr.number)).parsed_data
    with pytest.raises(RequestFailed) as conflict:
        await client.rest.pulls.async_merge(OWNER, "demo", pr.number)

    assert moved.value.response.status_code == 409
    assert (dirty.mergeable, dirty.mergeable_state) == (False, "dirty")
    assert conflict.value.response.status_code == 405
    assert conflict.value.response.json()["message"] == "Pull Request is not mergeable"
    assert repo.issues[pr.number].state == "open"


async def test_opened_closed_and_merged_webhooks_parse(gh: LocalGitHub, repo: Repo) -> None:
    gh.sim.commit(repo, "other", {"o.txt": "o\n"}, "other", "mona")
    with hooks_to(gh, HookReceiver()) as receiver:
        merged = gh.sim.open_pr(repo, "autofix/1", "Fix add")
        closed = gh.sim.open_pr(repo, "other")
        gh.sim.close_pr(repo, closed.number)
        gh.sim.merge_pr(repo, merged.number)
        gh.state.hookshot.flush()

    hooks = [parse(h.event, h.body) for h in receiver.events("pull_request")]
    assert [type(h) for h in hooks] == [WebhookPullRequestOpened, WebhookPullRequestOpened] + [
        WebhookPullRequestClosed
    ] * 2
    opened, _, was_closed, was_merged = hooks
    assert isinstance(opened, WebhookPullRequestOpened)
    assert isinstance(was_closed, WebhookPullRequestClosed)
    assert isinstance(was_merged, WebhookPullRequestClosed)
    assert opened.number == merged.number
    assert (was_closed.pull_request.merged, was_merged.pull_request.merged) == (False, True)
    last = receiver.events("pull_request")[-1].payload()
    assert last["pull_request"]["merge_commit_sha"] == branch_sha(repo, "main")
    [push] = receiver.events("push")  # the merge moved main
    assert (push.payload()["ref"], push.payload()["after"]) == ("refs/heads/main", branch_sha(repo, "main"))


async def test_refused_draft_when_the_repo_has_no_drafts(gh: LocalGitHub, repo: Repo) -> None:
    repo.allow_drafts = False
    client = gh.client()
    with pytest.raises(RequestFailed) as err:
        await client.rest.pulls.async_create(
            OWNER, "demo", title="t", head="autofix/1", base="main", draft=True
        )
    ready = await client.rest.pulls.async_create(OWNER, "demo", title="t", head="autofix/1", base="main")

    assert err.value.response.status_code == 422
    assert ready.parsed_data.draft is False
