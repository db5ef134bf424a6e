"""Each attempt's own copy of the checkout, and the `git diff` of what the attempt changed.

The copy holds the checkout's tracked and untracked-but-not-ignored files (symbolic links copied as
links, never followed) in a fresh git repository made without templates, so no hook of the original
comes along; the baseline is the tree of that first index. Git runs with a scrubbed environment, no
global or system config, hooks and fsmonitor off: reading code is all the worker does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GIT_SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.autocrlf=false")


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *GIT_SAFE, *args],
        cwd=repo,
        env=git_env(repo),
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed in {repo}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8", errors="surrogateescape")


def source_files(checkout: Path) -> list[str]:
    """The checkout's files as git sees them (tracked, plus untracked not ignored), or every file."""
    if (checkout / ".git").exists():
        listed = git(checkout, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        return sorted({p for p in listed.split("\0") if p})
    found = []
    for dirpath, dirnames, filenames in os.walk(checkout):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        found += [os.path.relpath(os.path.join(dirpath, f), checkout) for f in filenames]
    return sorted(found)


def copy_checkout(checkout: Path, dest: Path) -> str:
    """Copy `checkout` to `dest` (a new directory) and return the baseline tree id."""
    if not checkout.is_dir():
        raise FileNotFoundError(f"no checkout at {checkout}")
    dest.mkdir(parents=True)
    for rel in source_files(checkout):
        src, out = checkout / rel, dest / rel
        if not src.is_symlink() and not src.is_file():
            continue  # a deleted tracked file, or a submodule directory
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), out)
        else:
            shutil.copy2(src, out)
    git(dest, "init", "-q", "--template=")
    git(dest, "add", "-A")
    return git(dest, "write-tree").strip()


def apply_diff(workspace: Path, diff: str) -> None:
    """Apply a guarded diff (as `take_diff` made it) to a fresh copy; RuntimeError if it does not apply."""
    git(
        workspace,
        "apply",
        "--binary",
        "--whitespace=nowarn",
        "-",
        stdin=diff.encode("utf-8", "surrogateescape"),
    )


def take_diff(workspace: Path, baseline: str) -> str:
    """What changed in `workspace` since `baseline`, as `git diff` text; "" when nothing did."""
    git(workspace, "add", "-A")
    diff = git(
        workspace, "diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", baseline
    )
    return normalise_diff(diff)


def normalise_diff(diff: str) -> str:
    """One spelling per change: no leading or trailing blank lines, one final newline, "" for no change."""
    return diff.strip("\n") + "\n" if diff.strip() else ""


def diff_key(diff: str) -> str:
    """What makes two diffs the same change: the diff without its `index` (blob id) lines."""
    return "\n".join(line for line in diff.splitlines() if not line.startswith("index "))
