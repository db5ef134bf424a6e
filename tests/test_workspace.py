"""The workspace: a real shallow fetch of one commit from the local GitHub's smart HTTP, with an
installation token minted by our edge, from repositories that try to run code at checkout time."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.github.client import GitHubApp
from jobs.patch.workspace import WorkspaceError, open_workspace
from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.support import OWNER, LocalGitHub, make_settings

TokenSource = Callable[[], Awaitable[str]]


@pytest.fixture
async def token(gh: LocalGitHub, redis: Redis, redis_url: str) -> TokenSource:
    settings = make_settings(github_private_key=gh.private_key, github_api_url=gh.url, redis_url=redis_url)
    return GitHubApp(settings, redis).installation(gh.installation_id).token


def _commit(repo: Repo, entries: list[tuple[str, str, bytes | str]], message: str) -> str:
    """A commit on main with raw tree entries (mode, path, blob bytes or an object id for a gitlink)."""
    parent = gitstore.rev_parse(repo.path, "refs/heads/main")
    rows = [
        (mode, path, data if isinstance(data, str) else gitstore.hash_blob(repo.path, data))
        for mode, path, data in entries
    ]
    tree = gitstore.write_tree(repo.path, f"{parent}^{{tree}}", rows)
    who = gitstore.Person("mona", "mona@example.com", 1_700_000_000)
    sha = gitstore.commit_tree(repo.path, tree, [parent] if parent else [], message, who, who)
    gitstore.update_ref(repo.path, "refs/heads/main", sha)
    return sha


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)


def _listing(path: Path) -> list[Path]:
    return list(path.iterdir())


def _hostile_home(home: Path, marker: Path) -> None:
    """A user git config that would run code on checkout if the workspace read it."""
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    for name in ("post-checkout", "post-merge", "reference-transaction", "fsmonitor-watchman"):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        (hooks / name).chmod(0o755)
    for name in ("smudge", "lfs"):
        (home / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\ncat\n")
        (home / name).chmod(0o755)
    (home / ".gitconfig").write_text(
        f"[core]\n\thooksPath = {hooks}\n"
        f'[filter "evil"]\n\tsmudge = {home / "smudge"}\n\trequired = true\n'
        f'[filter "lfs"]\n\tsmudge = {home / "lfs"}\n'
        f'[protocol "file"]\n\tallow = always\n'
    )


async def test_fetches_exactly_the_failing_commit_and_cleans_up(
    gh: LocalGitHub, token: TokenSource, tmp_path: Path
) -> None:
    repo = gh.sim.create_repo(OWNER, "calc", {"calc.py": "def add(a, b):\n    return a - b\n"})
    failing = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert failing is not None
    gh.sim.commit(repo, "main", {"calc.py": "def add(a, b):\n    return a + b\n"}, "Fix add", OWNER)
    parent = tmp_path / "ws"
    parent.mkdir()

    async with open_workspace(gh.url, OWNER, "calc", failing, token, parent=parent) as ws:
        assert (ws.path / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
        assert _run("git", "-C", str(ws.path), "rev-parse", "HEAD").stdout.strip() == failing
        assert _run("git", "-C", str(ws.path), "rev-list", "--count", "HEAD").stdout.strip() == "1"
        secret = await token()
        config = (ws.path / ".git" / "config").read_text()
        assert secret not in config
        assert f"url = {ws.url}" in config
        assert ws.url == f"{gh.url}/{OWNER}/calc.git"
        leaked = [p for p in parent.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert leaked == []
        assert list((ws.path / ".git" / "hooks").glob("*")) == []  # no sample hooks either

    assert _listing(parent) == []


async def test_nothing_from_a_hostile_repository_runs(
    gh: LocalGitHub, token: TokenSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    _hostile_home(home, marker)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    inner = gh.sim.create_repo(OWNER, "inner", {"payload.sh": f"echo submodule >> {marker}\n"})
    inner_sha = gitstore.rev_parse(inner.path, "refs/heads/main")
    assert inner_sha is not None
    repo = gh.sim.create_repo(OWNER, "hostile", {"README.md": "hi\n"})
    sha = _commit(
        repo,
        [
            ("100644", ".gitattributes", b"* filter=evil\n*.bin filter=lfs diff=lfs merge=lfs -text\n"),
            (
                "100644",
                ".gitmodules",
                f'[submodule "sub"]\n\tpath = sub\n\turl = file://{inner.path}\n'.encode(),
            ),
            ("160000", "sub", inner_sha),
            ("120000", "leak", b"/etc/hostname"),
            ("100644", "model.bin", b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"),
            ("100755", ".githooks/post-checkout", f"#!/bin/sh\necho repo-hook >> {marker}\n".encode()),
            ("100644", "app.py", b"x = 1\n"),
        ],
        "Add traps",
    )

    # the traps are armed: a plain clone with that user config runs the hook and the filter
    control = _run(
        "git", "clone", "--quiet", "--recurse-submodules", str(repo.path), str(tmp_path / "control"),
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
    )  # fmt: skip
    assert marker.exists(), control.stderr
    assert {"post-checkout", "smudge", "lfs"} <= set(marker.read_text().split()), control.stderr
    marker.unlink()

    async with open_workspace(gh.url, OWNER, "hostile", sha, token, parent=tmp_path) as ws:
        assert (ws.path / "app.py").read_text() == "x = 1\n"
        assert (ws.path / "model.bin").read_bytes().startswith(b"version https://git-lfs")  # not smudged
        assert not (ws.path / "leak").is_symlink()
        assert (ws.path / "leak").read_text() == "/etc/hostname"  # the link's text, not its target
        assert list((ws.path / "sub").iterdir()) == []  # the submodule is not cloned
        assert not (ws.path / ".git" / "modules").exists()
        plain = _run("git", "-C", str(ws.path), "status", "--porcelain", env={"PATH": "/usr/bin:/bin"})
        assert plain.returncode == 0
        assert plain.stdout == ""  # plain git, later, sees an unchanged checkout and runs no hook

    assert not marker.exists()


async def test_a_commit_the_server_does_not_have_is_an_error_and_leaves_nothing(
    gh: LocalGitHub, token: TokenSource, tmp_path: Path
) -> None:
    gh.sim.create_repo(OWNER, "calc", {"calc.py": "x = 1\n"})
    parent = tmp_path / "ws"
    parent.mkdir()
    with pytest.raises(WorkspaceError, match="fetch failed") as caught:
        async with open_workspace(gh.url, OWNER, "calc", "1" * 40, token, parent=parent):
            pass
    assert (await token()) not in str(caught.value)
    assert _listing(parent) == []


@pytest.mark.parametrize("sha", ["main", "HEAD~1", "abc123", "--upload-pack=touch /tmp/x"])
async def test_only_a_full_commit_id_is_accepted(sha: str, tmp_path: Path) -> None:
    async def never() -> str:
        raise AssertionError("no token is asked for")

    with pytest.raises(WorkspaceError, match="not a full commit id"):
        async with open_workspace("http://127.0.0.1:1", OWNER, "r", sha, never, parent=tmp_path):
            pass
    assert _listing(tmp_path) == []
