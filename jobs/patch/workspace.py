"""The workspace: a shallow clone of one commit, for reading. Nothing from the repository runs.

`open_workspace` fetches exactly the failing sha (depth 1) through the GitHub edge's token handling
(app.github.git_auth: the token lives only in the git process's environment), checks it out, and
removes the directory on exit. Everything a repository could use to run code at clone or checkout
time is off: hooks (`core.hooksPath=/dev/null`, an empty template, so no sample hooks), submodules,
LFS smudging and every filter driver (no user or system git config is read at all, so no driver is
defined), `file://` and other local transports, fsmonitor. Symbolic links are checked out as plain
files holding the link's text, so reading the workspace never leaves it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from app.github.git_auth import clone_url, git_env

GIT_TIMEOUT = 300.0
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Added to git_env's GIT_CONFIG_* settings for every git call in a workspace.
SAFE_CONFIG = (
    ("protocol.file.allow", "never"),
    ("protocol.ext.allow", "never"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("filter.lfs.smudge", ""),
    ("filter.lfs.process", ""),
    ("filter.lfs.required", "false"),
    ("core.fsmonitor", "false"),
    ("core.symlinks", "false"),
    ("advice.detachedHead", "false"),
    ("gc.auto", "0"),
)


# Written to the checkout's .git/config too, so later git calls in it (diffs of candidates, made
# by code that does not pass this environment) keep them: no hooks, and symlinks stay text (else
# plain git would see every checked-out link as changed).
PERSISTED = (
    ("core.hooksPath", os.devnull),
    ("core.symlinks", "false"),
    ("core.fsmonitor", "false"),
    ("protocol.file.allow", "never"),
)


class WorkspaceError(Exception):
    """The commit could not be fetched or checked out; the message is git's, without the token."""


@dataclass(frozen=True)
class Workspace:
    path: Path  # the checkout
    sha: str
    url: str  # the clone URL, without credentials


def build_git_env(token: str, url: str, home: Path) -> dict[str, str]:
    """git_env, with no user or system git config, and the clone-safety settings added."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env = git_env(token, url, base=base | {"HOME": str(home)})
    count = int(env["GIT_CONFIG_COUNT"])
    for i, (key, value) in enumerate(SAFE_CONFIG, start=count):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(count + len(SAFE_CONFIG))
    return env | {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_ALLOW_PROTOCOL": "http:https",
        "GIT_TERMINAL_PROMPT": "0",
    }


async def _git(env: dict[str, str], cwd: Path, *args: str, token: str, seconds: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise WorkspaceError(f"git {args[0]} timed out after {seconds:.0f} s") from None
    if proc.returncode != 0:
        text = err.decode(errors="replace").replace(token, "***").strip()
        raise WorkspaceError(f"git {args[0]} failed ({proc.returncode}): {text[-2000:]}")
    return out.decode(errors="replace")


@asynccontextmanager
async def open_workspace(
    api_url: str,
    owner: str,
    repo: str,
    sha: str,
    token: Callable[[], Awaitable[str]],
    *,
    parent: Path | None = None,
    git_seconds: float = GIT_TIMEOUT,
) -> AsyncIterator[Workspace]:
    """A checkout of `owner/repo` at `sha` (a full commit id), deleted on exit. `token` gives an
    installation token (e.g. `Installation.token`), asked for once."""
    if not _SHA.fullmatch(sha):
        raise WorkspaceError(f"not a full commit id: {sha!r}")
    url = clone_url(api_url, owner, repo)
    top = Path(tempfile.mkdtemp(prefix="autofix-ws-", dir=parent))
    try:
        secret = await token()
        env = build_git_env(secret, url, home=top)
        checkout = top / "checkout"
        init = ("init", "--quiet", "--template=", str(checkout))
        await _git(env, top, *init, token=secret, seconds=git_seconds)
        for args in (
            *(("config", key, value) for key, value in PERSISTED),
            ("remote", "add", "origin", url),
            ("fetch", "--quiet", "--depth=1", "--no-tags", "--no-recurse-submodules", "origin", sha),
            ("checkout", "--quiet", "--detach", "FETCH_HEAD"),
        ):
            await _git(env, checkout, *args, token=secret, seconds=git_seconds)
        head = (await _git(env, checkout, "rev-parse", "HEAD", token=secret, seconds=git_seconds)).strip()
        if head != sha:
            raise WorkspaceError(f"checked out {head}, not {sha}")
        yield Workspace(checkout, sha, url)
    finally:
        await asyncio.to_thread(shutil.rmtree, top, True)
