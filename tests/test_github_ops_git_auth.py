"""`git` over HTTPS with the installation token kept out of URLs, files and arguments: the credential
helper checked with `git credential fill`, then a real clone from the local GitHub's smart HTTP."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.github.git_auth import TOKEN_ENV, clone_url, git_env
from tests.fakes import github as fake_github
from tests.support import OWNER, LocalGitHub, local_github, make_settings

TOKEN = "ghs_4242_" + "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2ln-_x" * 8  # long, with dots, like the new format


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://api.github.com", "https://github.com/o/r.git"),
        ("https://api.github.com/", "https://github.com/o/r.git"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/o/r.git"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/o/r.git"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/o/r.git"),
        ("http://127.0.0.1:8123/prefix", "http://127.0.0.1:8123/prefix/o/r.git"),
    ],
)
def test_clone_url(api_url: str, expected: str) -> None:
    assert clone_url(api_url, "o", "r") == expected


def _fill(env: dict[str, str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    request = f"url={url}\n\n"
    return subprocess.run(
        ["git", "credential", "fill"],
        input=request,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=10,
    )


def test_the_helper_hands_the_token_to_git_for_that_origin_only(tmp_path: Path) -> None:
    env = git_env(TOKEN, "https://github.com/o/r.git", base={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    filled = _fill(env, "https://github.com/o/r.git", tmp_path)
    assert filled.returncode == 0, filled.stderr
    assert f"username=x-access-token\npassword={TOKEN}\n" in filled.stdout

    elsewhere = _fill(env, "https://evil.example/o/r.git", tmp_path)
    assert TOKEN not in elsewhere.stdout + elsewhere.stderr
    assert elsewhere.returncode != 0  # no helper, and no prompt: git gives up


def test_configured_helpers_are_switched_off(tmp_path: Path) -> None:
    """A `store` helper in the user's git config would write the token to ~/.git-credentials."""
    (tmp_path / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    env = git_env(TOKEN, "https://github.com/o/r.git", base={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    filled = _fill(env, "https://github.com/o/r.git", tmp_path)
    approve = subprocess.run(
        ["git", "credential", "approve"], input=filled.stdout, env=env, cwd=tmp_path, text=True, timeout=10
    )
    assert approve.returncode == 0
    assert not (tmp_path / ".git-credentials").exists()


def test_the_token_is_only_in_the_environment(tmp_path: Path) -> None:
    env = git_env(TOKEN, "https://github.com/o/r.git")
    assert env[TOKEN_ENV] == TOKEN
    assert [k for k, v in env.items() if TOKEN in v] == [TOKEN_ENV]
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_by_default_no_worker_secret_reaches_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----")
    env = git_env(TOKEN, "https://github.com/o/r.git")
    assert "ANTHROPIC_API_KEY" not in env
    assert "GITHUB_PRIVATE_KEY" not in env
    assert "PATH" in env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[LocalGitHub]:
    with local_github(tmp_path / "github", fake_github.generate_private_key()) as gh:
        gh.sim.create_repo(OWNER, "demo", {"README.md": "# demo\n"})
        yield gh


@pytest.fixture
async def token(served: LocalGitHub, redis: Redis, redis_url: str) -> str:
    """A real installation token, minted by our edge from the local GitHub."""
    settings = make_settings(
        github_private_key=served.private_key, github_api_url=served.url, redis_url=redis_url
    )
    return await GitHubApp(settings, redis).installation(served.installation_id).token()


def test_a_real_clone_leaves_no_token_on_disk(served: LocalGitHub, token: str, tmp_path: Path) -> None:
    url = clone_url(served.url, OWNER, "demo")
    env = git_env(token, url, base={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})

    cloned = subprocess.run(
        ["git", "clone", "--quiet", url, "work"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert cloned.returncode == 0, cloned.stderr
    work = tmp_path / "work"
    assert (work / "README.md").read_text() == "# demo\n"
    assert token not in cloned.stdout + cloned.stderr
    on_disk = [p for p in tmp_path.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert on_disk == []
    remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=work, capture_output=True, text=True)
    assert remote.stdout.strip() == url  # no credentials in the remote URL


def test_without_the_token_the_clone_is_refused(served: LocalGitHub, tmp_path: Path) -> None:
    url = clone_url(served.url, OWNER, "demo")
    env = git_env("ghs_" + "0" * 36, url, base={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    cloned = subprocess.run(
        ["git", "clone", "--quiet", url, "work"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cloned.returncode != 0
