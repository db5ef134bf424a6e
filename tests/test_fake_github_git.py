"""The local GitHub's repositories: REST views of real bare repos, and git clone/push over smart HTTP."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import httpx
import pytest
from githubkit.exception import RequestFailed
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import WebhookPush

from tests.fakes.github import gitstore
from tests.support import OWNER, HookReceiver, LocalGitHub, hooks_to

FILES = {"README.md": "# demo\n", "src/calc.py": "def add(a, b):\n    return a - b\n"}
HELPER = '!f() { echo username=x-access-token; echo "password=$GH_TOKEN"; }; f'


@pytest.fixture
def gh(gh: LocalGitHub) -> LocalGitHub:
    served = gh
    served.sim.create_repo(OWNER, "demo", FILES)
    return served


def new_token(gh: LocalGitHub, permissions: dict[str, str] | None = None) -> str:
    app = gh.app_client()
    resp = app.rest.apps.create_installation_access_token(gh.installation_id, permissions=permissions)  # type: ignore[arg-type]
    token: str = resp.parsed_data.token
    return token


def run_git(*args: str, cwd: Path, token: str | None) -> subprocess.CompletedProcess[str]:
    """git with a credential helper reading the token from the environment (never in the URL)."""
    env = gitstore.git_env({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"})
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if token is not None:
        env |= {"GH_TOKEN": token, "GIT_CONFIG_COUNT": "1"}
        env |= {"GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": HELPER}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


async def test_repository_object_parses_as_full_repository(gh: LocalGitHub) -> None:
    client = gh.client()
    repo = (await client.rest.repos.async_get(OWNER, "demo")).parsed_data

    assert repo.full_name == f"{OWNER}/demo"
    assert repo.default_branch == "main"
    assert repo.clone_url == f"{gh.url}/{OWNER}/demo.git"


async def test_contents_are_base64_with_the_git_blob_sha(gh: LocalGitHub) -> None:
    client = gh.client()
    resp = await client.rest.repos.async_get_content(OWNER, "demo", "src/calc.py", ref="main")
    content = resp.parsed_data
    repo_path = gh.state.repos[f"{OWNER}/demo"].path

    assert not isinstance(content, list)
    assert content.type == "file"
    assert base64.b64decode(content.content).decode() == FILES["src/calc.py"]
    blob_sha = gitstore.hash_blob(repo_path, FILES["src/calc.py"].encode())
    assert content.sha == blob_sha


async def test_directory_listing_and_missing_file(gh: LocalGitHub) -> None:
    client = gh.client()
    listing = (await client.rest.repos.async_get_content(OWNER, "demo", "src")).parsed_data
    with pytest.raises(RequestFailed) as err:
        await client.rest.repos.async_get_content(OWNER, "demo", "nope.txt")
    with pytest.raises(RequestFailed) as in_missing_dir:  # e.g. .github/autofix.yml with no .github/
        await client.rest.repos.async_get_content(OWNER, "demo", "nope/autofix.yml")

    assert isinstance(listing, list)
    assert [(e.name, e.type) for e in listing] == [("calc.py", "file")]
    assert err.value.response.status_code == 404
    assert in_missing_dir.value.response.status_code == 404


async def test_token_narrowed_to_another_repo_gets_404(gh: LocalGitHub) -> None:
    gh.sim.create_repo(OWNER, "other")
    client = gh.client(repositories=["other"])
    await client.rest.repos.async_get(OWNER, "other")
    with pytest.raises(RequestFailed) as err:
        await client.rest.repos.async_get(OWNER, "demo")
    assert err.value.response.status_code == 404


def test_clone_with_token_and_push_lands_in_the_bare_repo(gh: LocalGitHub, tmp_path: Path) -> None:
    token = new_token(gh)
    url = f"{gh.url}/{OWNER}/demo.git"
    cloned = run_git("clone", "--quiet", url, "work", cwd=tmp_path, token=token)
    assert cloned.returncode == 0, cloned.stderr
    work = tmp_path / "work"
    assert (work / "src/calc.py").read_text() == FILES["src/calc.py"]

    (work / "src/calc.py").write_text("def add(a, b):\n    return a + b\n")
    run_git("commit", "--quiet", "-am", "fix add", cwd=work, token=None)
    pushed = run_git("push", "--quiet", "origin", "HEAD:refs/heads/fix", cwd=work, token=token)

    assert pushed.returncode == 0, pushed.stderr
    local_head = run_git("rev-parse", "HEAD", cwd=work, token=None).stdout.strip()
    assert gitstore.rev_parse(gh.state.repos[f"{OWNER}/demo"].path, "refs/heads/fix") == local_head
    assert "GH_TOKEN" not in (work / ".git/config").read_text()


def test_clone_without_or_with_a_bad_token_fails(gh: LocalGitHub, tmp_path: Path) -> None:
    url = f"{gh.url}/{OWNER}/demo.git"
    anonymous = run_git("clone", "--quiet", url, "a", cwd=tmp_path, token=None)
    wrong = run_git("clone", "--quiet", url, "b", cwd=tmp_path, token="ghs_" + "0" * 36)

    for result in (anonymous, wrong):
        assert result.returncode != 0
        assert not (tmp_path / "a").exists()
    challenge = httpx.get(f"{url}/info/refs?service=git-upload-pack")
    assert challenge.status_code == 401
    assert challenge.headers["www-authenticate"] == 'Basic realm="GitHub"'


def test_read_only_token_cannot_push(gh: LocalGitHub, tmp_path: Path) -> None:
    token = new_token(gh, permissions={"contents": "read"})
    url = f"{gh.url}/{OWNER}/demo.git"
    assert run_git("clone", "--quiet", url, "w", cwd=tmp_path, token=token).returncode == 0
    pushed = run_git("push", "--quiet", "origin", "HEAD:refs/heads/x", cwd=tmp_path / "w", token=token)
    assert pushed.returncode != 0
    assert "403" in pushed.stderr


def test_git_push_sends_push_webhooks_per_ref(gh: LocalGitHub, tmp_path: Path) -> None:
    token = new_token(gh)
    url = f"{gh.url}/{OWNER}/demo.git"
    assert run_git("clone", "--quiet", url, "w", cwd=tmp_path, token=token).returncode == 0
    work = tmp_path / "w"
    (work / "new.txt").write_text("new\n")
    run_git("add", "new.txt", cwd=work, token=None)
    run_git("commit", "--quiet", "-m", "add new", cwd=work, token=None)
    with hooks_to(gh, HookReceiver()) as receiver:
        pushed = run_git(
            "push", "--quiet", "origin", "HEAD:refs/heads/fix", "HEAD:main", cwd=work, token=token
        )
        gh.state.hookshot.flush()

    assert pushed.returncode == 0, pushed.stderr
    events = [parse(h.event, h.body) for h in receiver.events("push")]
    assert all(isinstance(e, WebhookPush) for e in events)
    by_ref = {e.ref: e for e in events if isinstance(e, WebhookPush)}
    assert set(by_ref) == {"refs/heads/fix", "refs/heads/main"}
    new_branch, main = by_ref["refs/heads/fix"], by_ref["refs/heads/main"]
    assert (new_branch.created, new_branch.commits, main.created, main.forced) == (True, [], False, False)
    [commit] = main.commits
    assert (commit.message, commit.added) == ("add new", ["new.txt"])
    assert main.head_commit is not None
    assert new_branch.head_commit is not None
    assert main.head_commit.id == new_branch.head_commit.id == commit.id
    assert main.pusher.name == "autofix-test[bot]"
