"""A clean tree of the checkout's HEAD per run, and `git apply` of a candidate's patch into it.

Standard library only. Each run gets `git worktree add --detach` of HEAD in its own temporary
directory (no hooks, no local config beyond the repo's), removed afterwards. Worktree bookkeeping in
the shared `.git` is serialised with a lock, so parallel runs do not trip over each other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

# no hooks, no fsmonitor command, no line-ending rewrites: a previous run may have written the repo's config
GIT = (
    "git",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.autocrlf=false",
    "-c",
    "safe.directory=*",
)
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
APPLY_TIMEOUT_S = 120
_lock = threading.Lock()


class TreeError(Exception):
    """git could not make or change the tree; the message is git's own, shortened."""


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        [*GIT, "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        env=GIT_ENV | {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"},
        timeout=APPLY_TIMEOUT_S,
    )
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise TreeError("; ".join(message[:5])[:500] or f"git {args[0]} failed")
    return proc.stdout.decode(errors="replace")


@contextlib.contextmanager
def clean_tree(repo: Path, where: Path) -> Iterator[Path]:
    """A detached worktree of `repo`'s HEAD at `where`, removed (with its bookkeeping) on exit."""
    with _lock:
        git(repo, "worktree", "add", "--detach", "--force", str(where), "HEAD")
    try:
        yield where
    finally:
        with _lock:
            with contextlib.suppress(TreeError, subprocess.TimeoutExpired):
                git(repo, "worktree", "remove", "--force", str(where))
            shutil.rmtree(where, ignore_errors=True)
            with contextlib.suppress(TreeError, subprocess.TimeoutExpired):
                git(repo, "worktree", "prune")


def apply_patch(tree: Path, diff: bytes) -> None:
    """`git apply` into `tree` (no fuzz, index untouched); TreeError when it does not apply."""
    git(tree, "apply", "--whitespace=nowarn", "-", stdin=diff)
